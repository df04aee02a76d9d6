"""Judging the critic: critic-eval's metrics and critic-bench's corrupted steps."""

from __future__ import annotations

import json

import pytest

from srft.critic.quality import evaluate_critic, make_bench, metrics
from srft.critic.run import run_critic
from srft.files.corpus import CORPUS
from srft.files.verdicts import VERDICTS, CriticInfo, StepVerdict, Verdict

from .helpers import shell_step, trajectory


def verdict(tid, labels, status="ok"):
    steps = [StepVerdict(index=i, label=lab) for i, lab in enumerate(labels)]
    return Verdict(
        trajectory_id=tid,
        critic=CriticInfo(name="test"),
        status=status,
        steps=steps if status == "ok" else [],
        error=None if status == "ok" else "x",
    )


def gold_file(path, rows):
    path.write_text(
        "".join(json.dumps({"trajectory_id": t, "labels": ls}) + "\n" for t, ls in rows)
    )
    return path


def test_mistake_vs_rest_f1_counts_only_mistake_against_everything_else():
    pairs = [
        ("mistake", "mistake"),
        ("mistake", "good"),
        ("good", "mistake"),
        ("good", "good"),
        ("unnecessary", "good"),
        ("recover", "recover"),
    ]
    m = metrics(pairs)
    assert m["mistake_vs_rest"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5}
    assert m["accuracy"] == 0.5
    assert m["per_label"]["recover"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert m["confusion"]["matrix"]["unnecessary"]["good"] == 1


def test_steps_of_a_failed_prediction_are_unjudged_and_never_count_as_right(tmp_path):
    pred = tmp_path / "pred.jsonl"
    VERDICTS.write(pred, [verdict("a", ["good", "mistake"]), verdict("b", [], status="failed")])
    gold = gold_file(
        tmp_path / "gold.jsonl",
        [("a", ["good", "mistake"]), ("b", ["good", "good"]), ("c", ["good"])],
    )
    report = evaluate_critic(pred, gold)
    assert report["steps"] == 4 and report["unjudged_steps"] == 2
    assert report["accuracy"] == 0.5 and report["per_label"]["good"]["recall"] == 0.3333
    assert report["trajectories"] == {"gold": 3, "matched": 2, "missing_from_pred": 1}


def test_a_label_count_mismatch_between_pred_and_gold_is_an_error(tmp_path):
    pred = tmp_path / "pred.jsonl"
    VERDICTS.write(pred, [verdict("a", ["good"])])
    gold = gold_file(tmp_path / "gold.jsonl", [("a", ["good", "good"])])
    with pytest.raises(ValueError, match="'a' has 1 labels, gold"):
        evaluate_critic(pred, gold)


def test_the_bench_corrupts_chosen_steps_of_resolved_runs_with_matching_errors(tmp_path):
    resolved = trajectory(
        [shell_step(f"cat f{i}.py", f"x{i}", 0) for i in range(6)], tid="r", status="resolved"
    )
    unresolved = trajectory([shell_step("ls", "a", 0)], tid="u", status="unresolved")
    corpus = tmp_path / "c.jsonl"
    CORPUS.write(corpus, [resolved, unresolved])
    result = make_bench(corpus, tmp_path / "bench.jsonl", steps_per_trajectory=2, seed=1)
    assert result["written"] == 1 and result["skipped"] == 1 and result["corrupted_steps"] == 2
    [bench] = list(CORPUS.read(tmp_path / "bench.jsonl"))
    gold = json.loads((tmp_path / "bench.gold.jsonl").read_text())
    chosen = bench.metadata.extra["srft_bench"]["corrupted_steps"]
    assert gold["labels"] == ["mistake" if i in chosen else "good" for i in range(6)]
    for i in range(6):
        obs = bench.step_observations(i)[0]
        assert (obs.exit_code != 0) == (i in chosen)


def test_the_rule_critic_finds_every_corrupted_step_of_the_bench(tmp_path):
    resolved = [
        trajectory(
            [shell_step(f"grep -n x f{i}.py", f"{i}: x", 0) for i in range(8)],
            tid=f"r{n}",
            status="resolved",
        )
        for n in range(5)
    ]
    corpus = tmp_path / "c.jsonl"
    CORPUS.write(corpus, resolved)
    make_bench(corpus, tmp_path / "bench.jsonl", steps_per_trajectory=3, seed=7)
    run_critic(tmp_path / "bench.jsonl", tmp_path / "v.jsonl", "rules")
    report = evaluate_critic(tmp_path / "v.jsonl", tmp_path / "bench.gold.jsonl")
    assert report["mistake_vs_rest"]["recall"] == 1.0
    assert report["per_label"]["mistake"]["support"] == 15
