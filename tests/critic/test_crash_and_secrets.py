"""`srft critic` as a user runs it (a subprocess): killed with SIGKILL, and holding an API key."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from srft.critic.run import run_critic
from srft.files.corpus import CORPUS
from srft.files.verdicts import load_verdicts

from .fake_server import FakeChatServer
from .helpers import simple


def cli(corpus, out, base_url, *extra):
    return [
        sys.executable,
        "-m",
        "srft.cli",
        "critic",
        str(corpus),
        "-o",
        str(out),
        "--critic",
        "llm",
        "--base-url",
        base_url,
        "--model",
        "fake",
        "--no-progress",
        *extra,
    ]


def finished_ids(cache):
    try:
        with sqlite3.connect(cache) as db:
            return {r[0] for r in db.execute("SELECT trajectory_id FROM verdicts")}
    except sqlite3.OperationalError:  # not created yet
        return set()


@pytest.mark.slow
def test_a_run_killed_halfway_resumes_without_asking_twice_and_ends_as_an_uninterrupted_run(
    tmp_path,
):
    trajectories = [simple(f"k{i}", 3, task=f"TRAJ:k{i} fix", mistake_at=i % 3) for i in range(40)]
    corpus = tmp_path / "corpus.jsonl"
    CORPUS.write(corpus, trajectories)
    out = tmp_path / "run" / "verdicts.jsonl"
    cache = out.parent / "critic-cache.sqlite"
    with FakeChatServer(latency=0.15) as server:
        command = cli(corpus, out, server.base_url, "--concurrency", "2")
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while len(finished_ids(cache)) < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        done_before = finished_ids(cache)
        assert 10 <= len(done_before) < 40 and not out.exists()
        sent_before = len(server.requests)

        subprocess.run(command, check=True, capture_output=True, timeout=120)
        resent = [r["traj"] for r in server.requests[sent_before:]]
        assert not set(resent) & done_before  # no finished trajectory is asked again
        assert sorted(resent) == sorted({t.id for t in trajectories} - done_before)

        reference = tmp_path / "reference" / "verdicts.jsonl"
        run_critic(corpus, reference, "llm", model="fake", base_urls=[server.base_url])
    assert load_verdicts(out) == load_verdicts(reference)


@pytest.mark.slow
def test_the_api_key_appears_in_no_output_cache_log_or_error(tmp_path):
    key = "sk-test-Zq81-never-print-me-4477"
    env = {**os.environ, "SRFT_TEST_KEY": key}
    trajectories = [
        simple("ok", 2, task="TRAJ:ok x"),
        simple("echo", 2, task="TRAJ:echo FAULT:echokey x"),
        simple("junk", 2, task="TRAJ:junk FAULT:badjsonalways x"),
    ]
    corpus = tmp_path / "corpus.jsonl"
    CORPUS.write(corpus, trajectories)
    out = tmp_path / "run" / "verdicts.jsonl"
    with FakeChatServer() as server:
        extra = ["--api-key-env", "SRFT_TEST_KEY", "--max-retries", "1", "--timeout", "5"]
        runs = [
            subprocess.run(
                cli(corpus, out, server.base_url, *extra),
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            ),
            subprocess.run(
                cli(
                    corpus,
                    tmp_path / "b" / "v.jsonl",
                    server.base_url,
                    *extra,
                    "--emit-batch",
                    str(tmp_path / "b" / "batch.jsonl"),
                ),
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            ),
        ]
        sent = {r["authorization"] for r in server.requests}
    assert sent == {f"Bearer {key}"}  # the key was really used
    verdicts = load_verdicts(out)
    assert verdicts["echo"].status == "failed" and "[REDACTED]" in verdicts["echo"].error
    # 3: the echoing trajectory failed (its verdict, stored as failed, is redacted too).
    assert [r.returncode for r in runs] == [3, 0], runs[0].stderr
    for run in runs:
        assert key not in run.stdout and key not in run.stderr
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "critic-cache.sqlite" for p in files)
    for path in files:
        assert key.encode() not in path.read_bytes(), path
