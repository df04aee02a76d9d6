"""The stage graph: content hashes decide what runs, what is skipped and what resumes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srft.pipeline.graph import PipelineError, Stage, StageContext, run_stages
from srft.pipeline.manifest import Manifest


class Recorder:
    """Fake stage actions that write a file and remember that they ran."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bool]] = []

    def writer(self, out: str, text_of=lambda ctx: "x") -> object:
        def action(ctx: StageContext) -> dict:
            self.calls.append((ctx.key, ctx.resume))
            ctx.path(out).parent.mkdir(parents=True, exist_ok=True)
            ctx.path(out).write_text(text_of(ctx))
            return {"wrote": out}

        return action


def chain(rec: Recorder, source: Path, *, policy_settings: dict | None = None) -> list[Stage]:
    """ingest -> critic -> build -> train, with fake actions."""
    return [
        Stage(
            "ingest",
            "ingest",
            rec.writer("corpus.jsonl", lambda c: source.read_text()),
            outputs=["corpus.jsonl"],
            inputs=[str(source)],
        ),
        Stage(
            "critic",
            "critic",
            rec.writer("verdicts.jsonl"),
            outputs=["verdicts.jsonl"],
            settings={"name": "rules"},
            after=["ingest"],
        ),
        Stage(
            "build/sft",
            "build",
            rec.writer("datasets/sft/data"),
            outputs=["datasets/sft"],
            settings=policy_settings or {"policy": "sft"},
            after=["ingest", "critic"],
        ),
    ]


def keys(rec: Recorder) -> list[str]:
    return [k for k, _ in rec.calls]


@pytest.fixture
def source(tmp_path: Path) -> Path:
    p = tmp_path / "in.txt"
    p.write_text("trajectories v1")
    return p


def test_first_run_runs_every_stage_and_writes_the_manifest(tmp_path: Path, source: Path) -> None:
    rec = Recorder()
    outcomes = run_stages(chain(rec, source), tmp_path / "run", log=lambda m: None)
    assert [o.decision for o in outcomes] == ["run", "run", "run"]
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["format"] == "srft.run" and manifest["version"] == 1
    assert {k: v["status"] for k, v in manifest["stages"].items()} == dict.fromkeys(
        ["ingest", "critic", "build/sft"], "done"
    )
    assert all(len(v["input_hash"]) == 64 and v["output_hash"] for v in manifest["stages"].values())


def test_second_run_with_nothing_changed_does_no_work(tmp_path: Path, source: Path) -> None:
    rec = Recorder()
    run_stages(chain(rec, source), tmp_path / "run", log=lambda m: None)
    rec.calls.clear()
    outcomes = run_stages(chain(rec, source), tmp_path / "run", log=lambda m: None)
    assert rec.calls == []
    assert [o.decision for o in outcomes] == ["skip", "skip", "skip"]


def test_changing_an_input_file_reruns_the_stages_that_depend_on_it(
    tmp_path: Path, source: Path
) -> None:
    rec = Recorder()
    run_stages(chain(rec, source), tmp_path / "run", log=lambda m: None)
    rec.calls.clear()
    source.write_text("trajectories v2")
    run_stages(chain(rec, source), tmp_path / "run", log=lambda m: None)
    # build reads the new corpus too, so it reruns although the fake critic's output is the same.
    assert keys(rec) == ["ingest", "critic", "build/sft"]


def test_an_upstream_rerun_with_identical_output_does_not_rerun_downstream(
    tmp_path: Path, source: Path
) -> None:
    rec = Recorder()
    run_stages(chain(rec, source), tmp_path / "run", log=lambda m: None)
    rec.calls.clear()
    stages = chain(rec, source)
    stages[1].settings = {"name": "rules", "concurrency": 8}  # changes no output byte
    run_stages(stages, tmp_path / "run", log=lambda m: None)
    assert keys(rec) == ["critic"]


def test_changing_one_stage_setting_reruns_only_that_stage_and_later(
    tmp_path: Path, source: Path
) -> None:
    rec = Recorder()
    run_stages(chain(rec, source), tmp_path / "run", log=lambda m: None)
    rec.calls.clear()
    run_stages(
        chain(rec, source, policy_settings={"policy": "rft"}), tmp_path / "run", log=lambda m: None
    )
    assert keys(rec) == ["build/sft"]


def test_a_deleted_output_makes_its_stage_run_again(tmp_path: Path, source: Path) -> None:
    rec = Recorder()
    run_stages(chain(rec, source), tmp_path / "run", log=lambda m: None)
    rec.calls.clear()
    (tmp_path / "run" / "verdicts.jsonl").unlink()
    run_stages(chain(rec, source), tmp_path / "run", log=lambda m: None)
    assert keys(rec) == ["critic"]


def test_force_reruns_a_stage_that_is_up_to_date(tmp_path: Path, source: Path) -> None:
    rec = Recorder()
    run_stages(chain(rec, source), tmp_path / "run", log=lambda m: None)
    rec.calls.clear()
    run_stages(chain(rec, source), tmp_path / "run", force=["critic"], log=lambda m: None)
    assert keys(rec) == ["critic"]


def test_a_failing_stage_is_recorded_and_named_in_the_error(tmp_path: Path, source: Path) -> None:
    rec = Recorder()
    stages = chain(rec, source)

    def boom(ctx: StageContext) -> None:
        raise ValueError("critic endpoint refused")

    stages[1].action = boom
    with pytest.raises(PipelineError, match=r"critic.*endpoint refused"):
        run_stages(stages, tmp_path / "run", log=lambda m: None)
    record = Manifest.load(tmp_path / "run").stages["critic"]
    assert record.status == "failed" and "endpoint refused" in (record.error or "")
    assert "build/sft" not in Manifest.load(tmp_path / "run").stages


def test_an_interrupted_resumable_stage_resumes_with_the_same_inputs(
    tmp_path: Path, source: Path
) -> None:
    rec = Recorder()
    attempts: list[bool] = []

    def train(ctx: StageContext) -> dict:
        attempts.append(ctx.resume)
        ckpt = ctx.path("runs/sft/checkpoint")
        if not ctx.resume:
            ckpt.parent.mkdir(parents=True, exist_ok=True)
            ckpt.write_text("step 2")
            raise KeyboardInterrupt  # the user pressed Ctrl-C mid-training
        assert ckpt.read_text() == "step 2"  # the earlier attempt's work is still there
        ctx.path("runs/sft/model").write_text("weights")
        return {}

    stages = [
        *chain(rec, source),
        Stage(
            "train/sft",
            "train",
            train,
            outputs=["runs/sft/model"],
            clean=["runs/sft"],
            after=["build/sft"],
            resumable=True,
        ),
    ]
    with pytest.raises(KeyboardInterrupt):
        run_stages(stages, tmp_path / "run", log=lambda m: None)
    assert Manifest.load(tmp_path / "run").stages["train/sft"].status == "running"
    rec.calls.clear()
    outcomes = run_stages(stages, tmp_path / "run", log=lambda m: None)
    assert attempts == [False, True]
    assert rec.calls == [] and outcomes[-1].decision == "resume"


def test_an_unfinished_stage_that_cannot_resume_starts_over_on_clean_outputs(
    tmp_path: Path, source: Path
) -> None:
    rec = Recorder()
    run_stages(chain(rec, source), tmp_path / "run", log=lambda m: None)
    manifest = Manifest.load(tmp_path / "run")
    manifest.stages["build/sft"].status = "running"
    manifest.save(tmp_path / "run")
    (tmp_path / "run" / "datasets" / "sft" / "leftover").write_text("half")
    rec.calls.clear()
    run_stages(chain(rec, source), tmp_path / "run", log=lambda m: None)
    assert rec.calls == [("build/sft", False)]
    assert not (tmp_path / "run" / "datasets" / "sft" / "leftover").exists()


def test_a_stage_that_does_not_write_its_outputs_fails(tmp_path: Path, source: Path) -> None:
    stages = [Stage("ingest", "ingest", lambda ctx: None, outputs=["corpus.jsonl"])]
    with pytest.raises(PipelineError, match=r"did not write corpus\.jsonl"):
        run_stages(stages, tmp_path / "run", log=lambda m: None)


def test_outputs_outside_the_run_folder_are_refused(tmp_path: Path) -> None:
    stages = [Stage("ingest", "ingest", lambda ctx: None, outputs=["../elsewhere"])]
    with pytest.raises(PipelineError, match="inside the run folder"):
        run_stages(stages, tmp_path / "run", log=lambda m: None)


def test_a_stage_depending_on_a_later_stage_is_refused(tmp_path: Path) -> None:
    stages = [Stage("build", "build", lambda ctx: None, outputs=["d"], after=["critic"])]
    with pytest.raises(PipelineError, match="depends on 'critic'"):
        run_stages(stages, tmp_path / "run", log=lambda m: None)
