"""`srft critic --critic llm` as a labelling service: loud failures, exit statuses, healing reruns.

Every case runs the real command against a real HTTP server on loopback (tests/critic/
fake_server.py) and checks four things: the exit status (0 all judged, 3 some failed, 1 none,
2 the server cannot be used), the console text, what the store holds, and how many requests the
server saw (never a repeated paid request after a success; failed trajectories asked again on
the rerun).
"""

from __future__ import annotations

import json
import socket
import time

import pytest
from typer.testing import CliRunner

from srft.cli import app
from srft.critic.store import CriticStore
from srft.files.corpus import CORPUS
from srft.files.verdicts import load_verdicts

from .fake_server import FakeChatServer
from .helpers import simple

runner = CliRunner()
EXPECTED = ["good", "mistake", "good"]


def faulty(tid: str, fault: str | None = None):
    task = f"TRAJ:{tid} " + (f"FAULT:{fault} " if fault else "") + "Fix the parser."
    return simple(tid, 3, task=task, mistake_at=1)


class Run:
    """One corpus, one output folder, and the `srft critic` command run on them."""

    def __init__(self, tmp_path, trajectories, base_url: str, *extra: str) -> None:
        self.corpus = tmp_path / "corpus.jsonl"
        CORPUS.write(self.corpus, trajectories)
        self.out = tmp_path / "out" / "verdicts.jsonl"
        self.cache = tmp_path / "out" / "critic-cache.sqlite"
        self.base_url = base_url
        self.extra = list(extra)

    def __call__(self, *more: str, env: dict[str, str] | None = None):
        args = [
            "critic",
            str(self.corpus),
            "-o",
            str(self.out),
            "--critic",
            "llm",
            "--base-url",
            self.base_url,
            "--model",
            "fake",
            "--no-progress",
            "--timeout",
            "1",
            "--max-retries",
            "2",
            *self.extra,
            *more,
        ]
        return runner.invoke(app, args, env=env or {"OPENAI_API_KEY": ""})

    def stored(self) -> dict[str, int]:
        store = CriticStore(self.cache)
        try:
            return {
                "answers": store.count_answers(),
                "verdicts": store.db.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0],
            }
        finally:
            store.close()

    def summary(self) -> dict:
        return json.loads(self.out.with_name("verdicts.summary.json").read_text())


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the server cannot be used: stop at once, exit 2, nothing cached ---------------------------


def test_connection_refused_stops_at_once_with_exit_status_2_and_caches_nothing(tmp_path):
    run = Run(
        tmp_path, [faulty("a"), faulty("b"), faulty("c")], f"http://127.0.0.1:{closed_port()}/v1"
    )
    started = time.monotonic()
    result = run()
    assert time.monotonic() - started < 5  # no retries against a closed port
    assert result.exit_code == 2
    assert "the server cannot be used" in result.output and run.base_url in result.output
    assert "cannot connect" in result.output
    assert not run.out.exists()
    assert run.stored() == {"answers": 0, "verdicts": 0}


def test_a_wrong_path_is_a_404_that_says_the_base_url_may_lack_v1(tmp_path):
    with FakeChatServer() as server:
        run = Run(tmp_path, [faulty("a")], server.base_url.removesuffix("/v1"))
        result = run()
        assert result.exit_code == 2
        assert "HTTP 404" in result.output and "does --base-url end in /v1?" in result.output
        assert server.requests == [] and not run.out.exists()
    assert run.stored() == {"answers": 0, "verdicts": 0}


def test_a_refused_key_is_a_401_that_names_the_variable_and_never_the_key(tmp_path):
    with FakeChatServer(api_key="right-key") as server:
        run = Run(tmp_path, [faulty("a"), faulty("b")], server.base_url)
        result = run(env={"OPENAI_API_KEY": "wrong-key-123"})
        assert result.exit_code == 2
        assert "HTTP 401, the key was refused (the key is read from $OPENAI_API_KEY)" in (
            result.output
        )
        assert "wrong-key-123" not in result.output
        assert server.preflights == 0 and server.requests == []  # one preflight, refused
    assert run.stored() == {"answers": 0, "verdicts": 0}


def test_an_unknown_model_stops_the_run_naming_the_model(tmp_path):
    with FakeChatServer(models=("served-model",)) as server:
        run = Run(tmp_path, [faulty("a")], server.base_url)
        result = run()
        assert result.exit_code == 2
        assert "unknown model 'fake'" in result.output and "does not exist" in result.output
        assert server.requests == []
    assert run.stored() == {"answers": 0, "verdicts": 0}


def test_a_key_revoked_during_the_run_stops_it_with_exit_status_2(tmp_path):
    with FakeChatServer() as server:
        run = Run(tmp_path, [faulty("a", "401")], server.base_url)
        result = run()
        assert result.exit_code == 2 and "HTTP 401" in result.output
        assert len(server.requests_for("a")) == 1  # not retried


# -- retried faults: the run ends complete, exit 0 ---------------------------------------------


def test_429_is_retried_after_retry_after_and_the_run_exits_0(tmp_path):
    with FakeChatServer(retry_after="1") as server:
        run = Run(tmp_path, [faulty("a", "429")], server.base_url, "--max-retries", "3")
        started = time.monotonic()
        result = run()
        assert time.monotonic() - started >= 2.0  # two 429s, each with Retry-After: 1
        assert result.exit_code == 0, result.output
        assert "1 ok, 0 failed" in result.output and "retries 2" in result.output
        assert len(server.requests_for("a")) == 3
    assert load_verdicts(run.out)["a"].labels() == EXPECTED
    assert run.stored() == {"answers": 1, "verdicts": 1}


@pytest.mark.parametrize("fault", ["500", "dropbody"])
def test_a_500_or_a_connection_dropped_mid_body_is_retried_until_answered(tmp_path, fault):
    with FakeChatServer() as server:
        run = Run(tmp_path, [faulty("a", fault)], server.base_url, "--max-retries", "3")
        result = run()
        assert result.exit_code == 0, result.output
        assert len(server.requests_for("a")) == 3  # two faults, then the answer
        assert run.summary()["requests"]["retries"] == 2
        again = run()
        assert again.exit_code == 0 and len(server.requests_for("a")) == 3  # nothing re-sent
    assert load_verdicts(run.out)["a"].labels() == EXPECTED


# -- failures that heal on rerun: exit 3 (some failed), then 0 ---------------------------------


def test_a_server_slower_than_timeout_fails_its_trajectory_and_the_rerun_retries_only_it(
    tmp_path,
):
    with FakeChatServer(hang_seconds=3.0) as server:
        run = Run(
            tmp_path, [faulty("a", "slow"), faulty("b")], server.base_url, "--max-retries", "1"
        )
        result = run()
        assert result.exit_code == 3, result.output
        assert "1 ok, 1 failed" in result.output
        assert "timeout: 1; first: a: no answer from the server: TimeoutError" in result.output
        assert len(server.requests_for("a")) == 2 and len(server.requests_for("b")) == 1
        assert run.stored() == {"answers": 1, "verdicts": 2}  # a stored as failed, not final
        assert load_verdicts(run.out)["a"].failure == "timeout"

        server.hang_seconds = 0  # the server got faster
        result = run()
        assert result.exit_code == 0, result.output
        assert len(server.requests_for("a")) == 3  # asked again
        assert len(server.requests_for("b")) == 1  # its success stayed cached
    assert load_verdicts(run.out)["a"].labels() == EXPECTED


def test_an_answer_that_is_never_valid_json_is_saved_and_asked_again_on_rerun(tmp_path):
    with FakeChatServer() as server:
        run = Run(
            tmp_path,
            [faulty("a", "badjsonalways"), faulty("b")],
            server.base_url,
            "--max-reasks",
            "1",
        )
        result = run()
        assert result.exit_code == 3, result.output
        assert "invalid-answer: 1; first: a: steps 0..2: no valid answer after 2 tries" in (
            result.output
        )
        assert "verdicts.invalid-answers.jsonl" in result.output
        raw = [json.loads(x) for x in run.out.with_name("verdicts.invalid-answers.jsonl").open()]
        assert [r["trajectory_id"] for r in raw] == ["a", "a"]
        assert raw[0]["content"].startswith("Sure! Here are the labels:")
        assert len(server.requests_for("a")) == 2

        kept = run("--no-retry-failed")
        assert kept.exit_code == 3 and len(server.requests_for("a")) == 2  # opted out: 0 sent

        again = run()
        assert again.exit_code == 3
        # Neither bad answer is replayed: the question and its re-ask are both asked again.
        assert len(server.requests_for("a")) == 4
        assert len(server.requests_for("b")) == 1
        assert run.summary()["run"] == {"failed_now": 1, "from_store": 1, "retried_failed": 1}


def test_a_run_where_nothing_was_judged_exits_1(tmp_path):
    with FakeChatServer() as server:
        run = Run(tmp_path, [faulty("a", "badjsonalways")], server.base_url, "--max-reasks", "0")
        result = run()
        assert result.exit_code == 1, result.output
        assert "0 ok, 1 failed" in result.output


def test_critic_status_counts_judged_failed_per_reason_and_pending(tmp_path):
    with FakeChatServer() as server:
        run = Run(
            tmp_path,
            [faulty("a", "badjsonalways"), faulty("b"), faulty("c", "400")],
            server.base_url,
            "--max-reasks",
            "0",
        )
        assert run().exit_code == 3
    CORPUS.write(run.corpus, [faulty("a"), faulty("b"), faulty("c"), faulty("d")])
    result = runner.invoke(app, ["critic-status", str(run.cache), "--corpus", str(run.corpus)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    # a and c changed (their task lost the fault), d is new: three pending.
    assert lines[0].endswith("judged 1, failed 2, pending 3")
    assert any(x.startswith("  invalid-answer: 1; first: a: steps 0..2") for x in lines)
    assert any(x.startswith("  http-400: 1; first: c: no answer from the server") for x in lines)


# -- answers as models give them ---------------------------------------------------------------


@pytest.mark.parametrize(
    "shape",
    [
        "shape_list",
        "shape_wrapper",
        "shape_verdicts",
        "shape_prose",
        "shape_fenced",
        "shape_stepkeys",
        "shape_bare",
    ],
)
def test_answers_that_ignore_the_schema_are_read_without_a_reask(tmp_path, shape):
    with FakeChatServer(accepts=()) as server:
        run = Run(tmp_path, [faulty("a", shape)], server.base_url, "--response-format", "plain")
        result = run()
        assert result.exit_code == 0, result.output
        assert [r["format"] for r in server.requests_for("a")] == ["plain"]
    assert load_verdicts(run.out)["a"].labels() == EXPECTED
    assert run.stored() == {"answers": 1, "verdicts": 1}


def test_an_answer_missing_a_step_is_completed_by_asking_for_that_step_only(tmp_path):
    with FakeChatServer() as server:
        run = Run(tmp_path, [faulty("a", "partial")], server.base_url)
        result = run()
        assert result.exit_code == 0, result.output
        assert [r["keys"] for r in server.requests_for("a")] == [["0", "1", "2"], ["2"]]
    assert load_verdicts(run.out)["a"].labels() == EXPECTED


def test_a_rerun_of_the_same_job_replaces_its_verdicts_but_another_jobs_output_is_refused(
    tmp_path,
):
    with FakeChatServer() as server:
        run = Run(tmp_path, [faulty("a")], server.base_url)
        assert run().exit_code == 0
        again = run()  # the same command: it heals its failures, so it may replace its output
        assert again.exit_code == 0, again.output
        other = run("--temperature", "0.5")  # another job: its output is not this one's to replace
        assert other.exit_code == 1
        assert "exists; pass --overwrite" in other.output
        assert run("--temperature", "0.5", "--overwrite").exit_code == 0
