"""Held-out NLL per step label: the numbers, the grouping, the file, and bad input."""

from __future__ import annotations

import math

import pytest

from srft.evaluate import nll as nll_mod
from srft.evaluate.nll import (
    EvaluateError,
    NllTally,
    evaluate_nll,
    nll_table,
    step_nll_sums,
    token_nll,
)
from srft.files.evaluation import EVALUATION
from tests.evaluate.conftest import make_row


def test_step_sums_cover_exactly_the_span_and_skip_the_unpredictable_first_token():
    token = [math.nan, 1.0, 2.0, 3.0, 4.0, 5.0]
    steps = [{"start": 0, "end": 2}, {"start": 3, "end": 6}]
    sums = step_nll_sums(token, steps)
    assert [(total, count) for _, total, count in sums] == [(1.0, 1), (12.0, 3)]


def test_tally_weights_tokens_for_per_token_mean_and_steps_for_step_mean():
    tally = NllTally()
    tally.add_step(label="good", outcome="resolved", trained=True, nll_sum=10.0, tokens=10)
    tally.add_step(label="good", outcome="unresolved", trained=True, nll_sum=3.0, tokens=1)
    good = tally.to_json()["by_label"]["good"]
    assert good["nll_per_token"] == pytest.approx(13 / 11)
    assert good["mean_step_nll"] == pytest.approx((1.0 + 3.0) / 2)
    assert (good["tokens"], good["steps"]) == (11, 2)


def test_steps_without_a_label_count_as_unlabeled_and_masked_ones_as_masked():
    tally = NllTally()
    tally.add_step(label=None, outcome="unknown", trained=False, nll_sum=2.0, tokens=2)
    out = tally.to_json()
    assert out["by_label"]["unlabeled"]["tokens"] == 2
    assert out["by_trained"]["masked"]["steps"] == 1
    assert out["by_outcome_label"]["unknown"]["unlabeled"]["nll_per_token"] == 1.0


def test_chunked_token_nll_equals_the_full_forward_cross_entropy(tiny_model_dir, monkeypatch):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    ids = [(5 * t + 3) % 97 for t in range(40)]
    monkeypatch.setattr(nll_mod, "LOGIT_CHUNK", 7)
    chunked = token_nll(model, ids)
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0, :-1]
    full = torch.nn.functional.cross_entropy(logits, torch.tensor(ids[1:]), reduction="none")
    assert math.isnan(chunked[0])
    assert chunked[1:] == pytest.approx(full.tolist(), rel=1e-4, abs=1e-5)


def test_nll_per_token_of_a_label_equals_the_models_own_loss_on_those_tokens(
    tiny_model_dir, write_dataset
):
    import torch
    from transformers import AutoModelForCausalLM

    row = make_row("t1", "unresolved", [(5, 15, True, "good"), (20, 30, False, "mistake")], 40)
    folder = write_dataset([row])
    report = evaluate_nll(folder, {"base": tiny_model_dir})

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    ids = torch.tensor([row["input_ids"]])
    for label, (start, end) in {"good": (5, 15), "mistake": (20, 30)}.items():
        labels = torch.full_like(ids, -100)
        labels[0, start:end] = ids[0, start:end]
        with torch.no_grad():
            expected = model(input_ids=ids, labels=labels).loss.item()
        got = report["models"]["base"]["by_label"][label]["nll_per_token"]
        assert got == pytest.approx(expected, rel=1e-4)


def test_eval_json_counts_tokens_and_steps_per_label_and_outcome(
    tiny_model_dir, write_dataset, tmp_path
):
    rows = [
        make_row("a", "resolved", [(2, 6, True, "good"), (8, 12, True, "good")], 16, seed=1),
        make_row("b", "unresolved", [(3, 5, True, "good"), (6, 11, False, "mistake")], 14, seed=2),
        make_row("c", "unresolved", [(1, 4, True, "recover")], 6, seed=3),
    ]
    folder = write_dataset(rows)
    out = tmp_path / "eval.json"
    evaluate_nll(folder, {"base": tiny_model_dir, "student": tiny_model_dir}, out)

    report = EVALUATION.load(out)
    assert report["format"] == "srft.eval" and report["version"] == 1
    assert list(report["models"]) == ["base", "student"]
    base = report["models"]["base"]
    assert {k: (v["tokens"], v["steps"]) for k, v in base["by_label"].items()} == {
        "good": (10, 3),
        "mistake": (5, 1),
        "recover": (3, 1),
    }
    assert base["by_outcome"]["resolved"]["tokens"] == 8
    assert base["by_outcome_label"]["unresolved"]["mistake"]["steps"] == 1
    assert base["by_trained"]["masked"]["tokens"] == 5
    assert report["dataset"]["rows_read"] == report["dataset"]["rows_evaluated"] == 3
    # same weights under two names: the same numbers, so the deltas are zero
    table = nll_table(report)
    assert [r["model"] for r in table] == ["base", "student"]
    assert table[1]["delta_good"] == pytest.approx(0.0)


def test_rows_longer_than_max_tokens_are_skipped_and_reported_not_dropped(
    tiny_model_dir, write_dataset
):
    rows = [
        make_row("short", "resolved", [(1, 5, True, "good")], 10),
        make_row("long", "resolved", [(1, 5, True, "good")], 50),
    ]
    report = evaluate_nll(write_dataset(rows), {"base": tiny_model_dir}, max_tokens=20)
    dataset = report["dataset"]
    assert (dataset["rows_read"], dataset["rows_evaluated"], dataset["rows_skipped"]) == (2, 1, 1)
    assert dataset["skipped"][0]["trajectory_id"] == "long"
    assert "max_tokens" in dataset["skipped"][0]["reason"]
    assert report["models"]["base"]["rows"] == 1


def test_a_step_span_outside_its_row_is_an_error_naming_the_row(tiny_model_dir, write_dataset):
    row = make_row("broken", "resolved", [(1, 5, True, "good")], 10)
    row["steps"][0]["end"] = 99
    with pytest.raises(EvaluateError, match=r"row 0 \(broken\): step 0 span \[1, 99\)"):
        evaluate_nll(write_dataset([row]), {"base": tiny_model_dir})


def test_a_folder_without_data_is_an_error(tmp_path, tiny_model_dir):
    with pytest.raises(EvaluateError, match="not a dataset folder"):
        evaluate_nll(tmp_path, {"base": tiny_model_dir})


def test_the_nll_command_writes_eval_json_and_prints_the_table(
    tiny_model_dir, write_dataset, tmp_path
):
    from typer.testing import CliRunner

    from srft.cli import app

    folder = write_dataset([make_row("a", "resolved", [(2, 6, True, "good")], 10)])
    out = tmp_path / "eval.json"
    args = ["evaluate", "nll", str(folder), "-m", f"base={tiny_model_dir}", "-o", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert EVALUATION.read(out).models["base"].by_label["good"].tokens == 4
    assert "good" in result.output


def test_the_nll_command_rejects_a_model_without_a_name(write_dataset, tiny_model_dir):
    from typer.testing import CliRunner

    from srft.cli import app

    folder = write_dataset([make_row("a", "resolved", [(2, 6, True, "good")], 10)])
    result = CliRunner().invoke(app, ["evaluate", "nll", str(folder), "-m", str(tiny_model_dir)])
    assert result.exit_code != 0
    assert "expected NAME=PATH" in result.output


def test_a_lora_adapter_folder_is_evaluated_on_its_base_model(
    tiny_model_dir, write_dataset, tmp_path
):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    lora = get_peft_model(
        base, LoraConfig(r=2, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    lora.save_pretrained(tmp_path / "adapter")
    row = make_row("t", "resolved", [(3, 20, True, "good")], 24)
    report = evaluate_nll(write_dataset([row]), {"lora": tmp_path / "adapter"})

    ids = torch.tensor([row["input_ids"]])
    labels = torch.full_like(ids, -100)
    labels[0, 3:20] = ids[0, 3:20]
    with torch.no_grad():
        expected = lora.eval()(input_ids=ids, labels=labels).loss.item()
    got = report["models"]["lora"]["by_label"]["good"]["nll_per_token"]
    assert got == pytest.approx(expected, rel=1e-4)


def test_only_the_requested_positions_are_computed_and_they_match_the_full_pass(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    ids = [(3 * t + 1) % 97 for t in range(30)]
    full = token_nll(model, ids)
    some = token_nll(model, ids, positions=[0, 4, 5, 6, 20])
    assert [t for t, v in enumerate(some) if not math.isnan(v)] == [4, 5, 6, 20]
    assert [some[t] for t in (4, 5, 6, 20)] == pytest.approx(
        [full[t] for t in (4, 5, 6, 20)], rel=1e-5
    )
