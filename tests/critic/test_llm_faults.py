"""The LLM critic against a real loopback HTTP server that misbehaves on purpose.

Each case: the fault named in the trajectory's task (see fake_server.FAULTS) and what must
happen. Throughout, a step is `good` only when the server judged it so.
"""

from __future__ import annotations

import time

import pytest

from srft.critic.run import run_critic
from srft.critic.store import CriticStore
from srft.files.corpus import CORPUS
from srft.files.verdicts import load_verdicts

from .fake_server import FakeChatServer
from .helpers import simple

FAST = {"timeout": 1.5, "backoff_base": 0.01, "max_retries": 3, "concurrency": 4}


def faulty(tid: str, fault: str | None = None, n_steps: int = 3, mistake_at: int | None = 1):
    task = f"TRAJ:{tid} " + (f"FAULT:{fault} " if fault else "") + "Fix the parser."
    return simple(tid, n_steps, task=task, mistake_at=mistake_at)


def judge(tmp_path, server, trajectories, **options):
    corpus = tmp_path / "corpus.jsonl"
    CORPUS.write(corpus, trajectories)
    out = tmp_path / "out" / "verdicts.jsonl"
    settings = {"model": "fake", "base_urls": [server.base_url], **FAST, **options}
    summary = run_critic(corpus, out, "llm", **settings)
    return load_verdicts(out), summary


def test_a_healthy_server_labels_every_step_as_it_judged_it(tmp_path, server):
    verdicts, summary = judge(tmp_path, server, [faulty("a")])
    assert verdicts["a"].status == "ok"
    assert verdicts["a"].labels() == ["good", "mistake", "good"]
    assert verdicts["a"].critic.model == "fake" and verdicts["a"].critic.mode == "whole"
    assert summary["requests"]["requests"] == 1 and summary["requests"]["retries"] == 0


def test_429_is_retried_no_sooner_than_retry_after(tmp_path, server):
    started = time.monotonic()
    verdicts, summary = judge(tmp_path, server, [faulty("a", "429")])
    assert time.monotonic() - started >= 2.0  # two 429s, each with Retry-After: 1
    assert verdicts["a"].labels() == ["good", "mistake", "good"]
    assert summary["requests"]["retries"] == 2 and summary["requests"]["statuses"]["429"] == 2


@pytest.mark.parametrize("fault", ["500", "hang", "drop", "badbody"])
def test_transient_faults_are_retried_until_answered(tmp_path, server, fault):
    verdicts, summary = judge(tmp_path, server, [faulty("a", fault)])
    assert verdicts["a"].status == "ok" and verdicts["a"].labels() == ["good", "mistake", "good"]
    assert summary["requests"]["retries"] >= 1


def test_a_server_that_keeps_failing_marks_the_trajectory_failed_not_finished(tmp_path, server):
    verdicts, _ = judge(tmp_path, server, [faulty("a", "500always"), faulty("b")])
    assert verdicts["a"].status == "failed" and verdicts["a"].steps == []
    assert "HTTP 500" in verdicts["a"].error and "after 3 retries" in verdicts["a"].error
    assert verdicts["b"].status == "ok"
    store = CriticStore(tmp_path / "out" / "critic-cache.sqlite")
    job = next(iter(_jobs(store)))
    assert store.finished_ids(job) == {"b"}  # a is stored as failed, so a rerun asks again
    assert store.jobs()[0]["reasons"]["http-500"]["count"] == 1


def _jobs(store):
    return {r[0] for r in store.db.execute("SELECT job FROM verdicts")}


def test_a_refused_request_fails_the_trajectory_with_the_servers_reason(tmp_path, server):
    verdicts, _ = judge(tmp_path, server, [faulty("a", "400")])
    assert verdicts["a"].status == "failed" and "context length exceeded" in verdicts["a"].error


@pytest.mark.parametrize("fault", ["badjson", "wrongcount", "badlabel"])
def test_an_invalid_answer_is_reasked_with_the_validation_error(tmp_path, server, fault):
    verdicts, summary = judge(tmp_path, server, [faulty("a", fault)])
    assert verdicts["a"].status == "ok" and verdicts["a"].labels() == ["good", "mistake", "good"]
    asked = server.requests_for("a")
    assert [r["reask"] for r in asked] == [False, True]
    assert summary["requests"]["reasks"] == 1


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("badjsonalways", "not valid JSON"),
        ("wrongcountalways", "steps 2 are missing"),
        ("badlabelalways", "step 0: label"),
    ],
)
def test_an_answer_still_invalid_after_the_reasks_fails_the_trajectory(
    tmp_path, server, fault, reason
):
    verdicts, _ = judge(tmp_path, server, [faulty("a", fault)], max_reasks=2)
    v = verdicts["a"]
    assert v.status == "failed" and v.steps == [] and reason in v.error
    assert "after 3 tries" in v.error and v.raw_response
    assert len(server.requests_for("a")) == 3


def test_nothing_is_recorded_good_that_was_not_judged(tmp_path, server):
    faults = [
        "429",
        "500",
        "500always",
        "hang",
        "drop",
        "badbody",
        "badjson",
        "badjsonalways",
        "wrongcount",
        "wrongcountalways",
        "badlabel",
        "badlabelalways",
        "400",
        None,
    ]
    trajectories = [faulty(f"t{i}", f, n_steps=4, mistake_at=i % 4) for i, f in enumerate(faults)]
    verdicts, summary = judge(tmp_path, server, trajectories, concurrency=8)
    assert len(verdicts) == len(faults)
    for i, t in enumerate(trajectories):
        v = verdicts[t.id]
        if v.status == "ok":
            expected = ["mistake" if s == i % 4 else "good" for s in range(4)]
            assert v.labels() == expected, t.id
        else:
            assert v.steps == [] and v.error
    failed = {t for t, v in verdicts.items() if v.status == "failed"}
    assert failed == {"t2", "t7", "t9", "t11", "t12"}
    assert summary["trajectories"] == {"read": 14, "ok": 9, "failed": 5}


def test_json_schema_refused_falls_back_to_json_object_and_is_remembered(tmp_path):
    with FakeChatServer(accepts=("json_object",)) as server:
        verdicts, summary = judge(
            tmp_path, server, [faulty(f"t{i}") for i in range(4)], concurrency=1
        )
        formats = [r["format"] for r in server.requests]
    assert all(v.status == "ok" for v in verdicts.values())
    assert formats == ["json_schema", "json_object", "json_object", "json_object", "json_object"]
    assert summary["requests"]["response_formats"] == {server.base_url: "json_object"}
    store = CriticStore(tmp_path / "out" / "critic-cache.sqlite")
    assert store.get_format(server.base_url, "fake") == "json_object"


def test_a_server_without_structured_output_gets_a_plain_prompt(tmp_path):
    with FakeChatServer(accepts=()) as server:
        verdicts, _ = judge(tmp_path, server, [faulty("a"), faulty("b")], concurrency=1)
        formats = [r["format"] for r in server.requests]
    assert verdicts["a"].labels() == ["good", "mistake", "good"]
    assert formats == ["json_schema", "json_object", "plain", "plain"]


def test_a_rerun_of_a_finished_job_sends_nothing(tmp_path, server):
    trajectories = [faulty(f"t{i}", "badjson" if i == 0 else None) for i in range(5)]
    first, _ = judge(tmp_path, server, trajectories)
    sent = len(server.requests)
    again, summary = judge(tmp_path, server, trajectories)
    assert len(server.requests) == sent
    assert again == first and summary["run"] == {"from_store": 5}


def test_a_changed_trajectory_is_judged_again(tmp_path, server):
    judge(tmp_path, server, [faulty("a"), faulty("b")])
    sent = len(server.requests)
    judge(tmp_path, server, [faulty("a"), faulty("b", mistake_at=2)])
    assert [r["traj"] for r in server.requests[sent:]] == ["b"]


def test_load_is_spread_over_several_servers(tmp_path, server):
    with FakeChatServer() as other:
        judge(
            tmp_path,
            server,
            [faulty(f"t{i}") for i in range(8)],
            base_urls=[server.base_url, other.base_url],
        )
        assert len(server.requests) > 0 and len(other.requests) > 0
        assert len(server.requests) + len(other.requests) == 8
