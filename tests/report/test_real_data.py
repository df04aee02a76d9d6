"""Real trajectories end to end: ingest -> rules critic -> srft dataset -> held-out NLL per label
with a tiny model -> the report, opened in the browser with the NLL numbers in it."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.shared]

# One resolved and one unresolved run whose first step the rules critic calls a mistake, so the
# rows truncated to the tiny test length still hold both good and mistake steps.
GEMINI_IDS = ("django__django-10973", "sympy__sympy-21930")


@pytest.fixture(scope="module")
def real_run(shared_trajectories: Path, smollm2_path: Path, tmp_path_factory) -> dict:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from srft.corpus.ingest import ingest
    from srft.critic.run import run_critic
    from srft.dataset.build import build_dataset
    from srft.evaluate.nll import evaluate_nll

    folder = tmp_path_factory.mktemp("real")
    gemini = shared_trajectories / "mini-swe-agent-v1-gemini"
    ingest(
        [shared_trajectories / "mini-swe-agent-v2-deepseek"]
        + [gemini / "trajs" / i / f"{i}.traj.json" for i in GEMINI_IDS],
        labels=[gemini / "logs" / i / "report.json" for i in GEMINI_IDS],
        output=folder / "corpus.jsonl",
    )
    run_critic(folder / "corpus.jsonl", folder / "verdicts.jsonl", "rules")
    build_dataset(
        folder / "corpus.jsonl",
        folder / "verdicts.jsonl",
        policy="srft",
        tokenizer=smollm2_path,
        output=folder / "srft",
        max_length=3072,
        overlong="truncate",
    )
    vocab = len(AutoTokenizer.from_pretrained(smollm2_path))
    models = {}
    for seed, name in enumerate(("base", "srft")):
        torch.manual_seed(seed)
        config = LlamaConfig(
            vocab_size=vocab, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
            num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=3072,
        )  # fmt: skip
        LlamaForCausalLM(config).save_pretrained(folder / name)
        models[name] = folder / name
    report = evaluate_nll(folder / "srft", models, folder / "eval.json")
    return {"folder": folder, "eval": report, "vocab": vocab}


def test_nll_is_counted_for_exactly_the_steps_and_tokens_of_each_label(real_run):
    from srft.evaluate.nll import load_rows

    expected_tokens, expected_steps = Counter(), Counter()
    for row in load_rows(real_run["folder"] / "srft"):
        for step in row["steps"]:
            label = step["label"] or "unlabeled"
            expected_tokens[label] += step["end"] - max(step["start"], 1)
            expected_steps[label] += 1
    assert {"good", "mistake"} <= set(expected_tokens)
    for model in real_run["eval"]["models"].values():
        by_label = model["by_label"]
        assert {k: v["tokens"] for k, v in by_label.items()} == dict(expected_tokens)
        assert {k: v["steps"] for k, v in by_label.items()} == dict(expected_steps)


def test_a_random_tiny_model_is_about_as_unsure_as_uniform_guessing(real_run):
    uniform = math.log(real_run["vocab"])
    for model in real_run["eval"]["models"].values():
        for bucket in model["by_label"].values():
            assert abs(bucket["nll_per_token"] - uniform) < 1.0


def test_the_held_out_nll_appears_in_the_report(real_run, browser, screenshot_dir):
    from srft.report.build import write_report

    folder = real_run["folder"]
    html = write_report(
        folder / "report.html",
        corpus=folder / "corpus.jsonl",
        verdicts=folder / "verdicts.jsonl",
        datasets={"srft": folder / "srft"},
        eval_json=folder / "eval.json",
        title="Real trajectories",
    )
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(html.as_uri())
    page.wait_for_selector("html[data-ready='1']")
    table = page.locator("#nll-table").inner_text()
    assert "good" in table and "mistake" in table
    for name, model in real_run["eval"]["models"].items():
        assert name in table
        for bucket in model["by_label"].values():
            assert f"{bucket['nll_per_token']:.3f}" in table
    assert page.locator("#chart-nll svg rect").count() >= 2
    page.locator("#comparison").screenshot(path=str(screenshot_dir / "real-nll.png"))
    page.select_option("#f-label", "mistake")
    page.locator("#browser").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "real-trajectory.png"))
    page.close()
    assert errors == []
