"""The critic's evaluation section: the harness's per-test results, as the model receives them."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from srft.cli import app
from srft.corpus.ingest import ingest
from srft.critic.prompt import evaluation_text
from srft.files.corpus import Outcome

runner = CliRunner()
INSTANCE = "django__django-16667"  # unresolved: one FAIL_TO_PASS test fails, one passes


def evaluation_section(prompt: str) -> str:
    match = re.search(r"^# Evaluation of the submitted patch\n(.*?)(?=^# )", prompt, re.S | re.M)
    assert match, "the prompt has no evaluation section"
    return match.group(1)


def test_the_llm_critic_prompt_lists_the_failing_and_passing_tests_of_a_shared_run(
    shared_trajectories, tmp_path, server
):
    root = shared_trajectories / "mini-swe-agent-v1-gemini"
    corpus = tmp_path / "corpus.jsonl"
    ingest([root / "trajs" / INSTANCE, root / "logs" / INSTANCE], output=corpus)
    report = json.loads((root / "logs" / INSTANCE / "report.json").read_text())["tests_status"]
    result = runner.invoke(
        app,
        [
            "critic",
            str(corpus),
            "-o",
            str(tmp_path / "v.jsonl"),
            "--critic",
            "llm",
            "--base-url",
            server.base_url,
            "--model",
            "fake",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert server.requests, "the critic sent no request"
    for request in server.requests:
        section = evaluation_section(request["user"])
        (failing,) = report["FAIL_TO_PASS"]["failure"]
        (passing,) = report["FAIL_TO_PASS"]["success"]
        assert "FAIL_TO_PASS (tests the fix had to make pass): 1 failing, 1 passing" in section
        assert f"FAILING {failing}" in section
        assert f"passing {passing}" in section
        assert f"passing {report['PASS_TO_PASS']['success'][0]}" in section
        assert "PASS_TO_PASS (tests that had to keep passing): 0 failing, 24 passing" in section


def test_failing_tests_come_before_passing_ones_in_each_group():
    details = {
        "tests_status": {
            "PASS_TO_PASS": {"success": ["t_keep"], "failure": ["t_broke"]},
            "FAIL_TO_PASS": {"success": ["t_fixed"], "failure": ["t_still"]},
        }
    }
    lines = evaluation_text(details).splitlines()
    assert lines[1:] == [
        "FAIL_TO_PASS (tests the fix had to make pass): 1 failing, 1 passing",
        "  FAILING t_still",
        "  passing t_fixed",
        "PASS_TO_PASS (tests that had to keep passing): 1 failing, 1 passing",
        "  FAILING t_broke",
        "  passing t_keep",
    ]


def test_details_without_test_results_are_shown_as_json():
    assert evaluation_text(Outcome(details={"success": False}).details) == "success: false"
