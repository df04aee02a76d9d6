"""The LLM critic's modes, accounting and OpenAI Batch round trip, against the loopback server."""

from __future__ import annotations

import json

from srft.critic.llm import LLMCritic
from srft.critic.prompt import PromptBuilder
from srft.critic.run import run_critic
from srft.files.corpus import CORPUS
from srft.files.critic_summary import summary_path
from srft.files.verdicts import load_verdicts

from .helpers import simple

FAST = {"timeout": 2.0, "backoff_base": 0.01, "max_retries": 2, "concurrency": 4}


def corpus_of(tmp_path, trajectories):
    path = tmp_path / "corpus.jsonl"
    CORPUS.write(path, trajectories)
    return path


def budget_critic(server, mode: str, max_prompt_tokens: int) -> LLMCritic:
    """The fake server's critic in `mode`, with a prompt budget small enough to force windows."""
    return LLMCritic(
        model="fake",
        base_urls=server.base_url,
        mode=mode,
        prompt=PromptBuilder(max_prompt_tokens=max_prompt_tokens),
        **FAST,
    )


def test_window_mode_labels_every_step_of_a_long_trajectory_once(tmp_path, server):
    t = simple("long", 30, task="TRAJ:long fix it", mistake_at=17, output_chars=600)
    critic = budget_critic(server, "window", max_prompt_tokens=1_500)
    run_critic(corpus_of(tmp_path, [t]), tmp_path / "v.jsonl", critic)
    v = load_verdicts(tmp_path / "v.jsonl")["long"]
    assert v.status == "ok" and v.critic.mode == "window"
    assert v.labels() == ["mistake" if i == 17 else "good" for i in range(30)]
    asked = [k for r in server.requests for k in r["keys"]]
    assert len(server.requests) > 1 and sorted(asked, key=int) == [str(i) for i in range(30)]


def test_whole_mode_judges_a_trajectory_too_long_for_one_request_in_windows(tmp_path, server):
    short = simple("short", 3, task="TRAJ:short fix it", mistake_at=1)
    long = simple("long", 60, task="TRAJ:long fix it", mistake_at=41, output_chars=400)
    critic = budget_critic(server, "whole", max_prompt_tokens=1_000)
    summary = run_critic(corpus_of(tmp_path, [short, long]), tmp_path / "v.jsonl", critic)
    verdicts = load_verdicts(tmp_path / "v.jsonl")
    assert verdicts["short"].critic.mode == "whole"
    assert verdicts["long"].status == "ok" and verdicts["long"].critic.mode == "window"
    assert verdicts["long"].labels() == ["mistake" if i == 41 else "good" for i in range(60)]
    assert summary["requests"]["whole_to_window"] == 1
    assert len(server.requests) > 2


def test_per_step_mode_sends_one_request_per_step(tmp_path, server):
    t = simple("p", 4, task="TRAJ:p fix it", mistake_at=2)
    summary = run_critic(
        corpus_of(tmp_path, [t]),
        tmp_path / "v.jsonl",
        "llm",
        model="fake",
        base_urls=[server.base_url],
        mode="per-step",
        **FAST,
    )
    assert load_verdicts(tmp_path / "v.jsonl")["p"].labels() == ["good", "good", "mistake", "good"]
    assert [r["keys"] for r in server.requests] and len(server.requests) == 4
    assert summary["requests"]["requests"] == 4


def test_the_summary_accounts_requests_tokens_and_cost(tmp_path, server):
    trajectories = [simple(f"t{i}", 3, task=f"TRAJ:t{i} x") for i in range(3)]
    summary = run_critic(
        corpus_of(tmp_path, trajectories),
        tmp_path / "v.jsonl",
        "llm",
        model="fake",
        base_urls=[server.base_url],
        prices=(2.0, 8.0),
        **FAST,
    )
    assert json.loads(summary_path(tmp_path / "v.jsonl").read_text()) == summary
    r, tokens = summary["requests"], summary["tokens"]
    assert r["requests"] == 3 and r["prompt_tokens"] > 0 and r["completion_tokens"] > 0
    assert tokens["prompt_tokens"] == r["prompt_tokens"]
    assert tokens["prompt_tokens_per_trajectory"] == round(r["prompt_tokens"] / 3, 1)
    assert summary["cost_usd"] == round(
        (r["prompt_tokens"] * 2 + r["completion_tokens"] * 8) / 1e6, 6
    )
    assert tokens["prompt_to_trajectory_ratio"] > 0


def test_requests_round_trip_through_the_openai_batch_format(tmp_path, server):
    trajectories = [simple(f"t{i}", 3, task=f"TRAJ:t{i} x", mistake_at=i) for i in range(3)]
    corpus = corpus_of(tmp_path, trajectories)
    batch = tmp_path / "batch.jsonl"
    options = {"model": "fake", "base_urls": ["http://127.0.0.1:9/v1"], **FAST}
    summary = run_critic(corpus, tmp_path / "v.jsonl", "llm", emit_batch=batch, **options)
    assert summary["verdicts_written"] is False and summary["requests"]["requests"] == 0
    lines = [json.loads(x) for x in batch.read_text().splitlines()]
    assert len(lines) == 3 and lines[0]["url"] == "/v1/chat/completions"
    assert lines[0]["body"]["response_format"]["type"] == "json_schema"
    # What OpenAI Batch / `vllm run-batch` would write back, answered here by the test server.
    import httpx

    with (tmp_path / "out.jsonl").open("w") as f:
        for line in lines:
            body = httpx.post(server.base_url + "/chat/completions", json=line["body"]).json()
            f.write(
                json.dumps(
                    {
                        "custom_id": line["custom_id"],
                        "response": {"status_code": 200, "body": body},
                        "error": None,
                    }
                )
                + "\n"
            )
    summary = run_critic(
        corpus, tmp_path / "v.jsonl", "llm", batch_output=tmp_path / "out.jsonl", **options
    )
    verdicts = load_verdicts(tmp_path / "v.jsonl")
    assert summary["batch_imported"] == {"imported": 3, "errors": 0}
    assert summary["requests"]["requests"] == 0 and summary["requests"]["cache_hits"] == 3
    assert [verdicts[f"t{i}"].labels()[i] for i in range(3)] == ["mistake"] * 3
