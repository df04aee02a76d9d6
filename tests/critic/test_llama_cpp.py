"""Integration: a real OpenAI-compatible server (llama-cpp-python) running a real model.

SmolLM2-135M is far too small to judge well; the point is the plumbing against a server that
behaves like a real one: it answers `response_format` type `json_schema` with HTTP 500 (so the
critic must fall back to `json_object` with the schema, which it grammar-constrains), counts real
tokens, and has a real context window (8k) that the DeepSeek trajectories exceed, so `window`
mode is needed. Every step must end with a valid label, or its trajectory `failed` with a reason.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from srft.critic.llm import LLMCritic
from srft.critic.prompt import PromptBuilder
from srft.critic.run import run_critic
from srft.critic.tokens import TokenCounter
from srft.files.corpus import CORPUS
from srft.files.verdicts import LABELS, load_verdicts

pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] is not installed")
pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "critic" / "small-corpus.jsonl"


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    from srft.smollm2 import gguf_file

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(gguf_file()),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                "8192",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"llama-cpp server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def assert_every_step_labelled_or_failed_with_reason(corpus, verdicts):
    for t in CORPUS.read(corpus):
        v = verdicts[t.id]
        if v.status == "ok":
            assert [s.index for s in v.steps] == list(range(len(t.steps)))
            assert all(s.label in LABELS for s in v.steps)
        else:
            assert v.steps == [] and v.error


def test_whole_mode_on_a_project_fixture_negotiates_json_object(llama_server, tmp_path):
    out = tmp_path / "v.jsonl"
    summary = run_critic(
        FIXTURE,
        out,
        "llm",
        model="smollm2",
        base_urls=[llama_server],
        mode="whole",
        max_reason_chars=80,
        concurrency=1,
        max_reasks=1,
        timeout=600,
        max_retries=1,
    )
    assert summary["requests"]["response_formats"] == {llama_server: "json_object"}
    assert summary["requests"]["format_fallbacks"] == 1
    assert summary["requests"]["prompt_tokens"] > 0  # real usage from the server
    assert_every_step_labelled_or_failed_with_reason(FIXTURE, load_verdicts(out))


@pytest.mark.shared
def test_window_mode_labels_a_deepseek_trajectory_longer_than_the_context(
    llama_server, shared_trajectories, smollm2_path, tmp_path
):
    from srft.corpus.ingest import ingest

    everything = tmp_path / "deepseek.jsonl"
    ingest([shared_trajectories / "mini-swe-agent-v2-deepseek"], output=everything)
    trajectories = list(CORPUS.read(everything))
    counter = TokenCounter(tokenizer=smollm2_path)
    # One whole trajectory (CI time allows one on two cores): the smallest, still beyond 8k.
    smallest = min(trajectories, key=lambda t: sum(len(m.content) for m in t.messages))
    assert sum(counter(m.content) for m in smallest.messages) > 8192
    corpus = tmp_path / "one.jsonl"
    CORPUS.write(corpus, [smallest])
    builder = PromptBuilder(
        counter=counter,
        max_prompt_tokens=3000,
        max_text_tokens=32,
        max_reason_chars=60,
        window_overlap=1,
        max_window_steps=12,
    )
    critic = LLMCritic(
        model="smollm2",
        base_urls=llama_server,
        mode="window",
        prompt=builder,
        concurrency=1,
        max_reasks=1,
        timeout=900,
        max_retries=1,
        tokens_per_step=40,
    )
    out = tmp_path / "v.jsonl"
    summary = run_critic(corpus, out, critic)
    verdicts = load_verdicts(out)
    assert summary["requests"]["requests"] >= 2  # several windows
    assert verdicts[smallest.id].critic.mode == "window"
    assert_every_step_labelled_or_failed_with_reason(corpus, verdicts)


def test_two_samples_from_the_real_server_give_each_step_a_confidence(llama_server, tmp_path):
    out = tmp_path / "v.jsonl"
    summary = run_critic(
        FIXTURE,
        out,
        "llm",
        model="smollm2",
        base_urls=[llama_server],
        mode="whole",
        samples=2,
        max_reason_chars=80,
        concurrency=2,
        max_reasks=1,
        timeout=600,
        max_retries=1,
    )
    verdicts = load_verdicts(out)
    assert_every_step_labelled_or_failed_with_reason(FIXTURE, verdicts)
    judged = [v for v in verdicts.values() if v.status == "ok"]
    assert judged, summary["failure_reasons"]
    for v in judged:
        for s in v.steps:
            assert s.confidence in (0.5, 1.0) and sum(s.votes.values()) in (1, 2)
            assert s.confidence == round(s.votes[s.label] / sum(s.votes.values()), 4)
