"""`--shard K/N` on ingest and critic: N shards together give the rows of one process."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from srft.cli import app
from srft.corpus.ingest import ingest
from srft.critic.run import run_critic
from srft.shard import Shard

FORMATS = ["mini-swe-agent-v1", "mini-swe-agent-v2", "swe-agent", "openhands", "openai-chat"]


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_ingest_shards_concatenated_hold_the_rows_of_one_ingest(tmp_path, fixtures_dir):
    inputs = [fixtures_dir / name for name in FORMATS]
    whole = ingest(inputs, output=tmp_path / "all.jsonl", skip_invalid=True)
    assert whole.accepted >= 6
    parts = []
    for k in range(3):
        out = tmp_path / f"part-{k}.jsonl"
        summary = ingest(inputs, output=out, skip_invalid=True, shard=Shard(k, 3))
        assert summary.read == summary.accepted + summary.rejected
        parts.append(_lines(out))
    joined = [line for part in parts for line in part]
    assert sorted(joined) == sorted(_lines(tmp_path / "all.jsonl"))
    assert all(parts), "every shard got some of the records"


def test_critic_shards_concatenated_hold_the_verdicts_of_one_run(tmp_path, fixtures_dir):
    corpus = tmp_path / "corpus.jsonl"
    ingest([fixtures_dir / name for name in FORMATS], output=corpus, skip_invalid=True)
    run_critic(corpus, tmp_path / "all.jsonl", "rules")
    parts = []
    for k in range(2):
        summary = run_critic(corpus, tmp_path / f"v{k}.jsonl", "rules", shard=Shard(k, 2))
        assert summary["shard"] == f"{k}/2"
        parts.append(_lines(tmp_path / f"v{k}.jsonl"))
    whole = _lines(tmp_path / "all.jsonl")
    assert sorted(line for part in parts for line in part) == sorted(whole)
    assert parts[0] == whole[0::2] and parts[1] == whole[1::2], "shard K holds lines K, K+N, ..."


def test_the_shard_option_is_checked_before_any_work(tmp_path, fixtures_dir):
    result = CliRunner().invoke(
        app,
        ["ingest", str(fixtures_dir / "swe-agent"), "-o", str(tmp_path / "o"), "--shard", "2/2"],
    )
    assert result.exit_code == 2
    assert "--shard '2/2': K must be 0..N-1" in result.output
    assert not (tmp_path / "o").exists()
