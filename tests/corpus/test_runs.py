"""Runs, not instances: several runs per instance, their own outcomes, stable ids, pass@k."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from srft.cli import app
from srft.corpus.ingest import ingest
from srft.corpus.stats import compute_stats, pass_at_k
from srft.files.corpus import CORPUS, Trajectory

runner = CliRunner()
INSTANCES = ("calc__add-1", "calc__div-2")
# (run folder, instance) -> resolved, as the run's own harness report says.
OUTCOMES = {
    ("swe-agent-t0", "calc__add-1"): True,
    ("swe-agent-t1", "calc__add-1"): False,
    ("mini-v2", "calc__add-1"): True,
    ("swe-agent-t0", "calc__div-2"): False,
    ("swe-agent-t1", "calc__div-2"): False,
    ("mini-v2", "calc__div-2"): False,
}


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


def swe_agent_run(fixtures_dir: Path, note: str) -> dict[str, Any]:
    """The SWE-agent fixture run, its first thought changed so each run differs."""
    run = json.loads((fixtures_dir / "swe-agent/greet__typo-5.traj").read_text())
    first = next(m for m in run["history"] if m["role"] == "assistant" and not m.get("is_demo"))
    first["content"] = f"{first['content']} ({note})"
    return run


def mini_run(fixtures_dir: Path, instance: str, note: str) -> dict[str, Any]:
    """The mini-swe-agent v2 fixture run, re-targeted at `instance`."""
    run = json.loads((fixtures_dir / "mini-swe-agent-v2/strs__pad-3.traj.json").read_text())
    run["instance_id"] = instance
    run["messages"][1]["content"] += f" ({note})"
    return run


def report(resolved: bool) -> dict[str, Any]:
    """A harness `report.json` (bare inner object) with per-test results."""
    fail_to_pass = ["test_calc.py::test_op"]
    return {
        "patch_is_None": False,
        "patch_exists": True,
        "patch_successfully_applied": True,
        "resolved": resolved,
        "tests_status": {
            "FAIL_TO_PASS": {
                "success": fail_to_pass if resolved else [],
                "failure": [] if resolved else fail_to_pass,
            },
            "PASS_TO_PASS": {"success": ["test_calc.py::test_other"], "failure": []},
        },
    }


@pytest.fixture
def runs_folder(tmp_path: Path, fixtures_dir: Path) -> Path:
    """3 runs each of 2 instances: two SWE-agent runs and one mini-swe-agent v2 run, each run
    folder with its own harness reports (`<run>/logs/<instance>/report.json`)."""
    root = tmp_path / "runs"
    for (run, instance), resolved in OUTCOMES.items():
        if run.startswith("swe-agent"):
            write(root / run / f"{instance}.traj", swe_agent_run(fixtures_dir, f"{run} {instance}"))
        else:
            path = root / run / instance / f"{instance}.traj.json"
            write(path, mini_run(fixtures_dir, instance, run))
        write(root / run / "logs" / instance / "report.json", report(resolved))
    return root


def run_folder(trajectory: Trajectory, root: Path) -> str:
    return Path(trajectory.source.file).relative_to(root).parts[0]


def test_three_runs_of_two_instances_are_six_trajectories_with_their_own_outcomes(
    runs_folder, tmp_path
):
    summary = ingest([runs_folder], output=tmp_path / "corpus.jsonl")
    corpus = list(CORPUS.read(tmp_path / "corpus.jsonl"))
    assert summary.accepted == 6 and summary.rejected == 0
    assert len({t.id for t in corpus}) == 6
    assert sorted(t.instance_id for t in corpus) == sorted(INSTANCES * 3)
    outcomes = {
        (run_folder(t, runs_folder), t.instance_id): t.outcome.status == "resolved" for t in corpus
    }
    assert outcomes == OUTCOMES
    for t in corpus:
        assert (
            Path(t.outcome.source).parent.parent.parent
            == Path(t.source.file).parents[0 if t.source.format == "swe-agent" else 1]
        ), "each run is labelled by the report in its own run folder"
    assert summary.ambiguous_labels == []


def test_reingesting_gives_the_same_ids_from_anywhere(runs_folder, tmp_path, monkeypatch):
    ingest([runs_folder], output=tmp_path / "first.jsonl")
    monkeypatch.chdir(runs_folder.parent)
    ingest(["runs"], output=tmp_path / "second.jsonl")
    first = [t.id for t in CORPUS.read(tmp_path / "first.jsonl")]
    second = [t.id for t in CORPUS.read(tmp_path / "second.jsonl")]
    assert first == second
    assert all(t.split("@")[0] in INSTANCES for t in first), "the instance stays in the id"


def test_a_glob_gives_the_ids_of_its_base_folder(runs_folder, tmp_path):
    ingest([runs_folder], output=tmp_path / "folder.jsonl")
    ingest([f"{runs_folder}/**/*.traj"], output=tmp_path / "glob.jsonl")
    by_file = {t.source.file: t.id for t in CORPUS.read(tmp_path / "folder.jsonl")}
    globbed = list(CORPUS.read(tmp_path / "glob.jsonl"))
    assert len(globbed) == 4
    assert all(by_file[t.source.file] == t.id for t in globbed)


def test_stats_shows_runs_per_instance_pass_at_1_and_pass_at_3(runs_folder, tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    ingest([runs_folder], output=corpus)
    result = runner.invoke(app, ["stats", str(corpus)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    # calc__add-1: 2 of 3 runs resolved; calc__div-2: 0 of 3.
    assert "2 instances; runs per instance min 3, median 3, max 3" in text
    assert "pass@1 0.333 (2 instances)" in text
    assert "pass@3 0.500 (2 instances)" in text
    data = json.loads(runner.invoke(app, ["stats", str(corpus), "--json", "--k", "2"]).stdout)
    assert data["runs_per_instance"]["pass_at_k"] == {"2": {"value": 0.5, "instances": 2}}


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [(3, 2, 1, 2 / 3), (3, 1, 3, 1.0), (3, 0, 3, 0.0), (5, 2, 2, 1 - 3 / 10), (10, 1, 5, 0.5)],
)
def test_pass_at_k_is_the_unbiased_estimator(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_runs_of_unknown_outcome_are_not_counted_in_pass_at_k(runs_folder, tmp_path):
    for path in runs_folder.glob("swe-agent-t1/logs/*/report.json"):
        path.unlink()
    ingest([runs_folder], output=tmp_path / "corpus.jsonl")
    stats = compute_stats(tmp_path / "corpus.jsonl")
    assert stats.pass_at(1) == (pytest.approx((1.0 + 0.0) / 2), 2)
    assert stats.pass_at(3) == (None, 0)


def test_exact_duplicates_are_dropped_and_counted(runs_folder, tmp_path):
    shutil.copytree(runs_folder / "swe-agent-t0", runs_folder / "swe-agent-t0-copy")
    summary = ingest([runs_folder], output=tmp_path / "corpus.jsonl")
    assert (summary.read, summary.accepted, summary.duplicates) == (8, 6, 2)
    assert summary.read == summary.accepted + summary.rejected + summary.duplicates
    assert len(list(CORPUS.read(tmp_path / "corpus.jsonl"))) == 6


def test_a_run_report_does_not_label_the_other_runs_of_its_instance(runs_folder, tmp_path):
    shutil.rmtree(runs_folder / "swe-agent-t1" / "logs")
    ingest([runs_folder], output=tmp_path / "corpus.jsonl")
    by_run = {
        (run_folder(t, runs_folder), t.instance_id): t
        for t in CORPUS.read(tmp_path / "corpus.jsonl")
    }
    assert by_run["swe-agent-t1", "calc__add-1"].outcome.status == "unknown"
    assert by_run["swe-agent-t0", "calc__add-1"].outcome.status == "resolved"


def test_an_instance_label_that_equally_near_runs_share_is_applied_to_none(tmp_path, fixtures_dir):
    folder = tmp_path / "samples"
    for n in range(3):
        write(folder / f"sample-{n}.traj.json", mini_run(fixtures_dir, "calc__add-1", f"#{n}"))
    labels = tmp_path / "labels.csv"
    labels.write_text("instance_id,resolved\ncalc__add-1,true\n")
    summary = ingest([folder], labels=[labels], output=tmp_path / "corpus.jsonl")
    corpus = list(CORPUS.read(tmp_path / "corpus.jsonl"))
    assert len(corpus) == 3
    assert summary.ambiguous_labels == [f"{labels}: calc__add-1 (3 runs)"]
    assert [t.outcome.status for t in corpus] == ["unknown"] * 3
    assert summary.outcomes == {"unknown": 3}
    result = runner.invoke(
        app, ["ingest", str(folder), "-l", str(labels), "-o", str(tmp_path / "cli.jsonl")]
    )
    assert "1 instance-keyed labels match several equally near runs" in " ".join(
        result.output.split()
    )


def test_labels_keyed_by_trajectory_id_label_that_run_alone(runs_folder, tmp_path):
    shutil.rmtree(runs_folder / "swe-agent-t1" / "logs")
    ingest([runs_folder], output=tmp_path / "first.jsonl")
    target = next(
        t
        for t in CORPUS.read(tmp_path / "first.jsonl")
        if run_folder(t, runs_folder) == "swe-agent-t1" and t.instance_id == "calc__add-1"
    )
    labels = tmp_path / "by-run.csv"
    labels.write_text(f"trajectory_id,resolved\n{target.id},true\n")
    ingest([runs_folder], labels=[labels], output=tmp_path / "second.jsonl")
    second = {t.id: t for t in CORPUS.read(tmp_path / "second.jsonl")}
    assert second[target.id].outcome.status == "resolved"
    assert second[target.id].outcome.source == str(labels)
    other = [t for t in second.values() if t.instance_id == "calc__div-2" and "t1" in t.source.file]
    assert other[0].outcome.status == "unknown"


def test_the_harness_per_test_results_are_kept_in_the_outcome_details(runs_folder, tmp_path):
    ingest([runs_folder], output=tmp_path / "corpus.jsonl")
    failed = next(
        t for t in CORPUS.read(tmp_path / "corpus.jsonl") if t.instance_id == "calc__div-2"
    )
    status = failed.outcome.details["tests_status"]
    assert status["FAIL_TO_PASS"] == {"success": [], "failure": ["test_calc.py::test_op"]}
    assert status["PASS_TO_PASS"]["success"] == ["test_calc.py::test_other"]
    assert failed.outcome.details["patch_successfully_applied"] is True


def test_shared_gemini_runs_keep_their_harness_test_results(shared_trajectories, tmp_path):
    root = shared_trajectories / "mini-swe-agent-v1-gemini"
    ingest(
        [root / "trajs/django__django-14915", root / "logs/django__django-14915"],
        output=tmp_path / "corpus.jsonl",
    )
    (trajectory,) = CORPUS.read(tmp_path / "corpus.jsonl")
    status = trajectory.outcome.details["tests_status"]
    assert (
        "test_choice_value_hash (model_forms.test_modelchoicefield.ModelChoiceFieldTests)"
        in (status["FAIL_TO_PASS"]["success"])
    )
    assert trajectory.outcome.status == "resolved"


def test_swe_agent_steps_that_history_lacks_are_kept_from_the_trajectory(tmp_path, fixtures_dir):
    run = json.loads((fixtures_dir / "swe-agent/greet__typo-5.traj").read_text())
    complete = copy.deepcopy(run)
    # Drop the final step (the submit) from history, as some SWE-agent versions save it.
    last = max(i for i, m in enumerate(run["history"]) if m["role"] == "assistant")
    run["history"] = run["history"][:last]
    path = write(tmp_path / "greet__typo-5.traj", run)
    ingest([path], output=tmp_path / "corpus.jsonl")
    (trajectory,) = CORPUS.read(tmp_path / "corpus.jsonl")
    assert len(trajectory.steps) == len(complete["trajectory"]) == 3
    final = trajectory.step_assistant(2)
    assert final.content.startswith("Submit.") and "submit" in final.content
    assert trajectory.step_observations(2)[0].content == "diff"
    assert trajectory.metadata.extra["steps_from_trajectory"] == 1


def test_run_labels_for_runs_not_in_the_corpus_are_reported(runs_folder, tmp_path):
    labels = tmp_path / "by-run.csv"
    labels.write_text("trajectory_id,resolved\nnot__there-1@0123456789,true\n")
    summary = ingest([runs_folder], labels=[labels], output=tmp_path / "corpus.jsonl")
    assert summary.unknown_label_runs == ["not__there-1@0123456789"]
