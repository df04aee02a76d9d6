"""Published per-message train flags (OpenAI `weight`, `train`, nebius `mask`) as verdicts."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from srft.cli import app
from srft.corpus.ingest import ingest
from srft.files.corpus import CORPUS
from srft.files.verdicts import load_verdicts

runner = CliRunner()


def chat_row(run_id: str, flags: list[object], key: str = "weight") -> dict:
    """An OpenAI fine-tuning style row: one assistant turn per flag, each answered by a tool."""
    messages = [{"role": "system", "content": "agent"}, {"role": "user", "content": "fix it"}]
    for n, flag in enumerate(flags):
        turn = {
            "role": "assistant",
            "content": f"step {n}",
            "tool_calls": [
                {"id": f"c{n}", "type": "function", "function": {"name": "bash", "arguments": "{}"}}
            ],
        }
        if flag is not None:
            turn[key] = flag
        messages += [turn, {"role": "tool", "tool_call_id": f"c{n}", "content": "ok"}]
    return {"traj_id": run_id, "instance_id": "a__b-1", "messages": messages}


def judge(tmp_path, rows: list[dict], exit_code: int = 0) -> dict:
    source = tmp_path / "rows.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ingest([source], output=tmp_path / "corpus.jsonl")
    out = tmp_path / "verdicts.jsonl"
    result = runner.invoke(
        app,
        [
            "critic",
            str(tmp_path / "corpus.jsonl"),
            "-o",
            str(out),
            "--critic",
            "published",
            "--no-progress",
        ],
    )
    assert result.exit_code == exit_code, result.output
    return load_verdicts(out)


def test_openai_weights_become_good_and_mistake_labels(tmp_path):
    verdicts = judge(tmp_path, [chat_row("r1", [1, 0, 1])])
    assert verdicts["r1"].labels() == ["good", "mistake", "good"]
    assert verdicts["r1"].critic.name == "published"
    assert verdicts["r1"].steps[1].reason == "published: not trained (masked)"


def test_a_boolean_train_field_is_read_too(tmp_path):
    verdicts = judge(tmp_path, [chat_row("r1", [False, True], key="train")])
    assert verdicts["r1"].labels() == ["mistake", "good"]


def test_a_step_without_a_flag_fails_the_verdict_rather_than_pass_as_good(tmp_path):
    # Nothing judged: the critic's exit status says so (docs/critic.md, exit statuses).
    verdicts = judge(
        tmp_path, [chat_row("r1", [1, None]), chat_row("r2", [None, None])], exit_code=1
    )
    assert verdicts["r1"].status == "failed" and "step 1 has no published train flag" in (
        verdicts["r1"].error
    )
    assert verdicts["r2"].status == "failed" and "no per-message train flags" in (
        verdicts["r2"].error
    )


def test_nebius_masks_are_kept_per_step(tmp_path, fixtures_dir):
    ingest([fixtures_dir / "nebius-swe-agent"], output=tmp_path / "corpus.jsonl")
    for trajectory in CORPUS.read(tmp_path / "corpus.jsonl"):
        flags = trajectory.metadata.extra["published_train"]
        assert len(flags) == len(trajectory.steps) and all(flags)
