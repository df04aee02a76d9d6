"""Exports for axolotl, LLaMA-Factory and TRL select the same turns and tokens as the builder."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from srft.dataset.build import build_dataset, load_dataset_folder
from srft.dataset.encoder import IGNORE_INDEX
from srft.dataset.export import EXPORTERS, export_dataset
from srft.files.corpus import CORPUS
from srft.files.verdicts import VERDICTS

from .conftest import trajectory, verdict
from .templates import QWEN25_LIKE

TURNS = [
    {"say": "Look.", "think": "hm", "call": "ls", "obs": "a.py"},
    {"say": "Break it.", "call": "rm a.py", "obs": "removed"},
    {"say": "Check.", "obs": "nothing", "obs_role": "user"},
    {"say": "Done."},
]


@pytest.fixture(scope="module", params=["smollm2", "qwen25"])
def dataset(request, smollm2_path, tmp_path_factory) -> Path:
    tmp_path = tmp_path_factory.mktemp(request.param)
    corpus, verdicts = tmp_path / "corpus.jsonl", tmp_path / "verdicts.jsonl"
    trajs = [trajectory(TURNS, id="u1"), trajectory(TURNS[:2], id="u2")]
    CORPUS.write(corpus, trajs)
    VERDICTS.write(
        verdicts,
        [verdict("u1", ["good", "mistake", "good", "good"]), verdict("u2", ["mistake", "good"])],
    )
    template = None
    if request.param == "qwen25":
        template = tmp_path / "qwen25.jinja"
        template.write_text(QWEN25_LIKE)
    build_dataset(
        corpus,
        verdicts,
        policy="srft",
        tokenizer=smollm2_path,
        chat_template=template,
        output=tmp_path / "ds",
        max_length=4096,
    )
    return tmp_path / "ds"


def _axolotl_trained_positions(
    tokenizer, template: str, messages, tools
) -> tuple[list[int], set[int]]:
    """Axolotl's per-message rule, reimplemented from its documentation and independent of the
    builder: a turn whose training flag is true is trained on its own tokens (found by
    rendering the conversation up to the turn, with and without it) and, with
    `train_on_eos: turn`, on its end-of-turn token; every other token is not trained."""

    def ids(msgs, gen=False):
        text = tokenizer.apply_chat_template(
            msgs, tools=tools, chat_template=template, tokenize=False, add_generation_prompt=gen
        )
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    eot = tokenizer.convert_tokens_to_ids("<|im_end|>")
    plain = [{k: v for k, v in m.items() if k != "train"} for m in messages]
    full = ids(plain)
    trained: set[int] = set()
    for i, m in enumerate(messages):
        if not m["train"]:
            continue
        start = len(ids(plain[:i], gen=True))
        with_turn = ids(plain[: i + 1])
        end = with_turn.index(eot, start) + 1  # through the turn's end-of-turn token
        assert with_turn[:end] == full[:end], "this oracle needs a template that keeps history"
        trained.update(range(start, end))
    return full, trained


def test_axolotl_export_trains_exactly_the_tokens_the_builder_trains(dataset, tokenizer, tmp_path):
    export_dataset(dataset, "axolotl", tmp_path / "ax")
    template = (tmp_path / "ax" / "chat_template.jinja").read_text()
    records = [json.loads(x) for x in (tmp_path / "ax" / "data.jsonl").read_text().splitlines()]
    rows = load_dataset_folder(dataset)
    assert len(records) == len(rows) == 2
    for record, row in zip(records, rows, strict=True):
        full, trained = _axolotl_trained_positions(
            tokenizer, template, record["messages"], record.get("tools")
        )
        assert full == row["input_ids"]
        ours = {i for i, label in enumerate(row["labels"]) if label != IGNORE_INDEX}
        assert trained == ours


def test_axolotl_config_names_the_per_message_training_field(dataset, tmp_path):
    export_dataset(dataset, "axolotl", tmp_path / "ax")
    config = yaml.safe_load((tmp_path / "ax" / "axolotl.yaml").read_text())
    ds = config["datasets"][0]
    assert (ds["type"], ds["message_field_training"], ds["train_on_eos"]) == (
        "chat_template",
        "train",
        "turn",
    )
    assert config["chat_template_jinja"] == (tmp_path / "ax" / "chat_template.jinja").read_text()


def test_llamafactory_export_alternates_turns_and_flags_each_gpt_turn(dataset, tmp_path):
    export_dataset(dataset, "llamafactory", tmp_path / "lf")
    record = json.loads((tmp_path / "lf" / "data.jsonl").read_text().splitlines()[0])
    roles = [t["from"] for t in record["conversations"]]
    assert roles == ["human", "gpt", "observation", "gpt", "observation", "gpt", "human", "gpt"]
    assert [t["train"] for t in record["conversations"] if t["from"] == "gpt"] == [
        True,
        False,
        True,
        True,
    ]
    assert record["system"] == "You are an agent."
    assert '"name": "bash"' in record["conversations"][1]["value"]
    info = json.loads((tmp_path / "lf" / "dataset_info.json").read_text())
    assert info["srft"]["formatting"] == "sharegpt"


def test_trl_export_is_the_token_rows_themselves(dataset, tmp_path):
    export_dataset(dataset, "trl", tmp_path / "trl")
    table = pq.read_table(tmp_path / "trl" / "data.parquet")
    rows = load_dataset_folder(dataset)
    assert table.column_names == ["input_ids", "labels"]
    assert table.column("labels").to_pylist() == rows["labels"]
    assert "SFTTrainer" in (tmp_path / "trl" / "trl.py").read_text()


def test_the_exporters_are_the_registry_entries_of_the_three_trainers():
    assert EXPORTERS.names() == ["axolotl", "llamafactory", "trl"]
