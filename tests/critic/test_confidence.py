"""Confidence: sampled labels, combined verdict files, and the calibration table of critic-eval.

The toy testbed knows every step's true label, so a critic's confidence can be checked against
the truth: the rules critic and noisy copies of the true labels (critics whose error rate is
known) are combined by `srft critic-vote`, and `srft critic-eval` must show that the steps they
agree on are right more often than the ones they split on.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from srft.cli import app
from srft.corpus.ingest import ingest
from srft.critic.quality import evaluate_critic
from srft.critic.run import run_critic
from srft.files.corpus import CORPUS
from srft.files.verdicts import LABELS, VERDICTS, load_verdicts

from .fake_server import FakeChatServer
from .helpers import simple

runner = CliRunner()


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    generate = pytest.importorskip("srft.toy.generate", reason="needs the toy testbed").generate
    out = tmp_path_factory.mktemp("toy")
    generate(out / "gen", 40, seed=5)
    corpus = out / "corpus.jsonl"
    ingest([out / "gen" / "trajs"], labels=[out / "gen" / "toy.teacher.json"], output=corpus)
    # The toy's labels are keyed by instance; the file critic keys them by run, as verdicts are.
    truth = out / "truth.jsonl"
    run_critic(corpus, truth, "file", labels_from=out / "gen" / "labels.jsonl")
    return {"corpus": corpus, "truth": truth, "dir": out}


def noisy_copy(truth: Path, output: Path, noise: float, seed: int) -> None:
    """The true labels with each replaced, with probability `noise`, by another label."""
    rng = random.Random(seed)
    verdicts = []
    for v in VERDICTS.read(truth):
        steps = [
            s.model_copy(
                update={"label": rng.choice([x for x in LABELS if x != s.label])}
                if rng.random() < noise
                else {}
            )
            for s in v.steps
        ]
        verdicts.append(v.model_copy(update={"steps": steps}))
    VERDICTS.write(output, verdicts)


def test_critic_eval_prints_a_calibration_table_for_voted_critics_on_toy_true_labels(toy):
    d = toy["dir"]
    assert run_critic(toy["corpus"], d / "rules.jsonl", "rules")["outcome"] == "complete"
    noisy_copy(toy["truth"], d / "noisy1.jsonl", 0.3, seed=1)
    noisy_copy(toy["truth"], d / "noisy2.jsonl", 0.3, seed=2)
    voted = d / "voted.jsonl"
    result = runner.invoke(
        app,
        [
            "critic-vote",
            *(str(d / f) for f in ("rules.jsonl", "noisy1.jsonl", "noisy2.jsonl")),
            "-o",
            str(voted),
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["ok"] == 40
    steps = [s for v in load_verdicts(voted).values() for s in v.steps]
    assert {s.confidence for s in steps} <= {0.3333, 0.6667, 1.0}
    assert all(sum(s.votes.values()) == 3 for s in steps)

    result = runner.invoke(app, ["critic-eval", "--pred", str(voted), "--gold", str(toy["truth"])])
    assert result.exit_code == 0, result.output
    assert "calibration (" in result.output and "expected calibration error" in result.output
    assert "min_confidence=t" in result.output
    report = evaluate_critic(voted, toy["truth"])
    buckets = {b["range"]: b for b in report["calibration"]["buckets"]}
    assert buckets["[0.9, 1.0]"]["accuracy"] > buckets["[0.6, 0.7)"]["accuracy"]
    assert sum(b["steps"] for b in buckets.values()) == report["steps"]
    thresholds = report["calibration"]["mistake_by_min_confidence"]
    assert [t["min_confidence"] for t in thresholds] == sorted(
        t["min_confidence"] for t in thresholds
    )
    # A higher threshold masks fewer steps, and more precisely.
    assert thresholds[0]["masked"] > thresholds[-1]["masked"]
    assert thresholds[-1]["precision"] >= thresholds[0]["precision"]


def test_sampled_llm_critic_stores_each_steps_agreement_and_votes(tmp_path):
    trajectories = [
        simple(f"t{i}", 4, task=f"TRAJ:t{i} fix it", mistake_at=i % 4) for i in range(6)
    ]
    CORPUS.write(tmp_path / "corpus.jsonl", trajectories)
    out = tmp_path / "v.jsonl"
    with FakeChatServer(noise=0.3, seed=4) as server:
        summary = run_critic(
            tmp_path / "corpus.jsonl",
            out,
            "llm",
            model="fake",
            base_urls=[server.base_url],
            samples=3,
            timeout=5,
        )
        assert summary["requests"]["requests"] == 18  # 3 samples of each of 6 trajectories
        assert all(r["format"] == "json_schema" for r in server.requests)
    verdicts = load_verdicts(out)
    steps = [s for v in verdicts.values() for s in v.steps]
    assert all(sum(s.votes.values()) == 3 for s in steps)
    assert all(s.confidence == round(s.votes[s.label] / 3, 4) for s in steps)
    assert all(s.votes[s.label] == max(s.votes.values()) for s in steps)
    assert {s.confidence for s in steps} > {1.0}  # noise made the samples disagree somewhere
    # A rerun sends nothing: each sample is its own stored answer.
    with FakeChatServer(noise=0.3, seed=4) as server:
        run_critic(
            tmp_path / "corpus.jsonl",
            out,
            "llm",
            model="fake",
            base_urls=[server.base_url],
            samples=3,
            timeout=5,
        )
        assert server.requests == []
    assert load_verdicts(out) == verdicts


def test_samples_at_temperature_zero_are_refused(tmp_path):
    (tmp_path / "c.jsonl").write_text("")
    with pytest.raises(ValueError, match="needs a temperature above 0"):
        run_critic(
            tmp_path / "c.jsonl",
            tmp_path / "v.jsonl",
            "llm",
            model="fake",
            base_urls=["http://127.0.0.1:9/v1"],
            samples=2,
            temperature=0.0,
        )
