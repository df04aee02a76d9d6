"""A word-level tokenizer over the toy environment's closed vocabulary, built in code.

The student is trained from scratch, so it needs no pretrained tokenizer: one token per word,
number, punctuation mark or space, plus whole tokens for the protocol's tags (`<returncode>`,
```` ```bash ````). Spaces are tokens of their own, not folded into the next word GPT-2 style,
so a word is the same token wherever it appears: `db` in the grep hit `db.cfg:pool_size = 7`
and in the command `edit db.cfg pool_size 25` is one id, and copying a name from an
observation is a plain copy of tokens (with folded spaces it would be a copy *and* a learned
`db` -> ` db` mapping per word, which a small student learns far more slowly).

The fixed strings of the protocol are whole tokens too, the way BPE merges a corpus's frequent
strings: the system prompt and the teacher's thoughts ("I will change the line with the old
value ."). They carry no decision, yet as words they were a third of a trajectory's tokens,
and a student's compute is per token: as whole tokens, the default teacher's trajectories are
219 tokens on average instead of 317.

It is an ordinary `tokenizers` WordLevel model wrapped as a `PreTrainedTokenizerFast` with a
ChatML chat template, saved as a normal Hugging Face folder, so `srft build --tokenizer DIR` and
`srft train` treat it like any other tokenizer.
"""

from __future__ import annotations

import re
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from srft.toy.env import (
    COMMANDS,
    COMPONENTS,
    DECOY_PREFIXES,
    DECOY_SUFFIXES,
    FILE_SUFFIX,
    KEY_HEADS,
    KEY_TAILS,
    LEVELS,
    ConfigRepo,
    Observation,
    make_episode,
)
from srft.toy.protocol import (
    SYSTEM_PROMPT,
    assistant_message,
    format_error_message,
    observation_message,
    task_message,
)
from srft.toy.teacher import _TYPOS, TEACHER_PRESETS, THOUGHT_PHRASES, teach

# One pre-token: a newline, a space, a word, a number or one mark.
PRETOKEN_PATTERN = r"\n|[A-Za-z]+|[0-9]+|[^A-Za-z0-9\s]|\s"
PROTOCOL_TOKENS = (
    "<returncode>", "</returncode>", "<output>", "</output>", "<pr_description>",
    "</pr_description>", "```bash", "```", "THOUGHT:",
)  # fmt: skip
PHRASES = (SYSTEM_PROMPT, *THOUGHT_PHRASES)
UNK, PAD, BOS, EOS = "[UNK]", "[PAD]", "<|im_start|>", "<|im_end|>"
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


# Commands that draw every error message the environment has.
_ERROR_COMMANDS = ("ls x", "grep", "cat", "cat x", "edit", "edit x y z", "submit x", "x", "'", "")


def _sample_texts(episodes_per_level: int = 30) -> list[str]:
    """Every kind of text the environment and the teacher produce, over a sample of episodes."""
    texts = [SYSTEM_PROMPT, "system", "user", "assistant", "\n\n", " \n"]
    texts += [format_error_message("```bash\nls\n```" * n) for n in range(4)]
    for level in LEVELS:
        for seed in range(episodes_per_level):
            episode = make_episode(seed, level)
            texts.append(task_message(episode.issue))
            for preset in TEACHER_PRESETS.values():
                for step in teach(episode, preset, seed).steps:
                    texts.append(assistant_message(step.thought, step.command))
                    texts.append(observation_message(step.observation))
            repo = ConfigRepo(episode)
            name = next(iter(episode.files))
            texts += [repo.run(c).output for c in (*_ERROR_COMMANDS, f"edit {name} x 1")]
    return texts


def _enumerated_words() -> list[str]:
    """Every name and value an episode can draw, even ones the sample missed."""
    words = [*COMPONENTS, *KEY_HEADS, *KEY_TAILS, *DECOY_PREFIXES, *DECOY_SUFFIXES, *COMMANDS]
    words += [*list(_TYPOS.values()), FILE_SUFFIX.strip("."), "WORD", "FILE", "KEY", "VALUE"]
    words += [str(n) for n in range(0, 200)]
    return words


def vocabulary() -> list[str]:
    """The sorted token list (specials and protocol tags excluded); deterministic."""
    pattern = re.compile(PRETOKEN_PATTERN)
    protocol = re.compile("|".join(re.escape(t) for t in sorted(PROTOCOL_TOKENS, key=len)[::-1]))
    tokens: set[str] = set()
    for text in _sample_texts():
        for piece in protocol.split(text):
            tokens.update(pattern.findall(piece))
    tokens.update(_enumerated_words())
    tokens.update(chr(c) for c in range(33, 127))
    return sorted(tokens)


def build_tokenizer() -> PreTrainedTokenizerFast:
    """The toy tokenizer, built from the environment's vocabulary."""
    specials = [PAD, UNK, BOS, EOS]
    vocab = {t: i for i, t in enumerate([*specials, *PROTOCOL_TOKENS, *PHRASES, *vocabulary()])}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(PRETOKEN_PATTERN), behavior="isolated")
    # Pieces carry their own spaces, so decoding is plain concatenation.
    backend.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token=UNK,
        pad_token=PAD,
        bos_token=BOS,
        eos_token=EOS,
        clean_up_tokenization_spaces=False,
        model_max_length=4096,
    )
    tokenizer.add_tokens([*PROTOCOL_TOKENS, *PHRASES])
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def save_tokenizer(path: str | Path) -> PreTrainedTokenizerFast:
    """Build the tokenizer and save it as a Hugging Face folder at `path`; returns it."""
    tokenizer = build_tokenizer()
    tokenizer.save_pretrained(str(path))
    return tokenizer


__all__ = ["CHAT_TEMPLATE", "Observation", "build_tokenizer", "save_tokenizer", "vocabulary"]
