"""What the report is built from: the data object, the aggregates, and safe embedding."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest

from srft.files.corpus import Message, ToolCall
from srft.report.build import (
    ReportError,
    clip,
    collect_report_data,
    embed_json,
    label_counts,
    labels_by_position,
    length_histogram,
    loss_curve,
    policy_tokens,
    read_metrics,
    render_html,
    split_thought_action,
)


def test_embedded_json_cannot_close_its_script_block_and_parses_back():
    data = {"text": "</script><script>alert(1)</script> & <!-- \u2028"}
    embedded = embed_json(data)
    assert "<" not in embedded and ">" not in embedded and "&" not in embedded
    assert json.loads(embedded) == data


def test_the_page_allows_only_its_own_script_and_no_network(report_inputs):
    page = render_html(collect_report_data(corpus=report_inputs["corpus"]))
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "default-src 'none'" in csp
    script = re.search(r"<script>(.*)</script>", page, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page


def test_markup_in_trajectories_never_reaches_the_html_outside_the_data_block(report_inputs):
    page = render_html(collect_report_data(corpus=report_inputs["corpus"]))
    outside = re.sub(
        r'<script type="application/json" id="srft-data">.*?</script>', "", page, flags=re.S
    )
    assert "__pwned" not in outside
    assert page.count("<script") == 2


def test_text_actions_are_the_last_fenced_block_and_the_rest_is_thought():
    message = Message(role="assistant", content="THOUGHT: list files\n\n```bash\nls -la\n```")
    assert split_thought_action(message) == ("THOUGHT: list files", "ls -la")


def test_tool_calls_are_the_action_and_the_content_is_the_thought():
    message = Message(
        role="assistant",
        content="Look first.",
        reasoning="I should check.",
        tool_calls=[ToolCall(id="1", name="bash", arguments={"command": "ls"})],
    )
    thought, action = split_thought_action(message)
    assert thought == "I should check.\n\nLook first."
    assert action.startswith("bash(") and '"command": "ls"' in action


def test_long_text_is_cut_in_the_middle_and_says_how_much():
    text = "a" * 100 + "b" * 100
    clipped = clip(text, 60)
    assert clipped.startswith("a" * 40) and clipped.endswith("b" * 20)
    assert "[... 140 characters omitted in the report ...]" in clipped
    assert clip("short", 60) == "short"


def _views(*specs):
    return [
        {"outcome": outcome, "steps": [{"index": i, "label": lab} for i, lab in enumerate(labels)]}
        for outcome, labels in specs
    ]


def test_label_counts_split_by_outcome_and_count_missing_labels_as_unlabeled():
    counts = label_counts(_views(("resolved", ["good", None]), ("unresolved", ["mistake", "good"])))
    assert counts["good"] == {"resolved": 1, "unresolved": 1, "unknown": 0}
    assert counts["unlabeled"]["resolved"] == 1
    assert counts["mistake"]["unresolved"] == 1


def test_labels_by_position_puts_each_step_in_its_tenth_of_the_trajectory():
    bins = labels_by_position(_views(("resolved", ["good", "mistake", "recover", "good", "good"])))
    assert [b["mistake"] for b in bins] == [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    assert sum(sum(b.values()) for b in bins) == 5


def test_length_histogram_counts_every_trajectory_once():
    views = _views(("resolved", ["good"] * 3), ("unresolved", ["good"] * 30), ("unknown", ["good"]))
    hist = length_histogram(views)
    assert sum(sum(c) for c in hist["counts"].values()) == 3
    assert hist["edges"][0] == 0 and hist["edges"][-1] > 30


def test_policy_tokens_measure_the_masked_fraction_and_list_dropped_trajectories():
    rows = [
        {
            "trajectory_id": "a",
            "outcome": "unresolved",
            "num_tokens": 100,
            "num_trained": 30,
            "steps": [
                {"index": 0, "start": 10, "end": 40, "trained": True},
                {"index": 1, "start": 50, "end": 60, "trained": False},
            ],
        }
    ]
    out = policy_tokens(rows, {"a": "unresolved", "b": "resolved"})
    unresolved = out["by_outcome"]["unresolved"]
    assert (unresolved["trained"], unresolved["masked"]) == (30, 10)
    assert unresolved["masked_fraction"] == pytest.approx(0.25)
    assert out["by_outcome"]["resolved"]["masked_fraction"] is None
    assert out["dropped"] == {"resolved": 1}
    assert out["rows"]["a"]["spans"] == [[0, 10, 40, True], [1, 50, 60, False]]


def test_loss_curve_keeps_finite_losses_in_step_order():
    records = [
        {"step": 1, "loss": 2.0},
        {"step": 2, "loss": float("nan")},
        {"step": 3, "eval_loss": 1},
    ]
    assert loss_curve(records) == [[1, 2.0]]


def test_a_bad_metrics_line_is_an_error_naming_file_and_line(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "loss": 1}\nnot json\n')
    with pytest.raises(ReportError, match=r"metrics.jsonl:2: not valid JSON"):
        read_metrics(tmp_path)


def test_report_data_accounts_for_every_trajectory_step_and_policy(report_inputs):
    data = collect_report_data(**report_inputs, settings={"critic": {"name": "rules"}})
    summary = data["summary"]
    assert summary["trajectories"] == 5 and summary["steps"] == 12
    assert summary["by_outcome"] == {"resolved": 2, "unresolved": 3}
    assert summary["label_counts"]["mistake"]["unresolved"] == 2
    assert set(data["policies"]) == {"sft", "rft", "srft"}
    assert data["policies"]["rft"]["dropped"] == {"unresolved": 3}
    assert data["policies"]["srft"]["by_outcome"]["unresolved"]["masked"] == 20
    assert len(data["policies"]["sft"]["loss"]) == 20
    assert data["settings"] == {"critic.name": "rules"}
    assert data["eval"]["models"]["srft"]["by_label"]["mistake"]["nll_per_token"] == 2.6


def test_a_corpus_only_report_still_renders(tmp_path, report_inputs):
    from srft.report.build import write_report

    path = write_report(tmp_path / "r.html", corpus=report_inputs["corpus"])
    assert path.read_text().startswith("<!DOCTYPE html>")


def test_a_folder_that_is_not_a_dataset_is_an_error(tmp_path, report_inputs):
    with pytest.raises(ReportError, match="not a dataset folder"):
        collect_report_data(corpus=report_inputs["corpus"], datasets={"srft": tmp_path})


def test_the_report_command_writes_the_file(tmp_path, report_inputs):
    from typer.testing import CliRunner

    from srft.cli import app
    from srft.files.corpus import CORPUS
    from srft.files.verdicts import VERDICTS

    CORPUS.write(tmp_path / "corpus.jsonl", report_inputs["corpus"])
    VERDICTS.write(tmp_path / "verdicts.jsonl", report_inputs["verdicts"].values())
    (tmp_path / "eval.json").write_text(json.dumps(report_inputs["eval_json"]))
    (tmp_path / "settings.yaml").write_text("policies: [sft, srft]\n")
    args = ["report", "-c", str(tmp_path / "corpus.jsonl"), "-v", str(tmp_path / "verdicts.jsonl")]
    args += [
        "-d",
        f"srft={report_inputs['datasets']['srft']}",
        "-r",
        f"srft={report_inputs['runs']['srft']}",
    ]
    args += ["-e", str(tmp_path / "eval.json"), "--settings", str(tmp_path / "settings.yaml")]
    args += ["--handoff", f"srft={report_inputs['handoffs']['srft']}"]
    for path in report_inputs["rollouts"]:
        args += ["--rollout", str(path)]
    args += ["-o", str(tmp_path / "out" / "report.html"), "--title", "CLI"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "report.html").is_file()
    page = (tmp_path / "out" / "report.html").read_text()
    assert "<title>CLI</title>" in page
    assert "mini-extra swebench" in page
    assert '"rollouts":{"format":"srft.rollouts"' in page


def test_trajectories_beyond_the_browser_limit_are_counted_and_the_omission_stated(report_inputs):
    data = collect_report_data(corpus=report_inputs["corpus"], max_trajectories=2)
    assert [t["id"] for t in data["trajectories"]] == ["alpha", "bravo"]
    assert data["summary"]["trajectories"] == 5
    assert data["summary"]["browser_omitted"] == 3


def test_a_dataset_saved_only_as_hf_folder_is_read_too(tmp_path, report_inputs):
    import datasets
    import pyarrow.parquet as pq

    from srft.report.build import read_dataset_rows

    parquet = report_inputs["datasets"]["srft"] / "data.parquet"
    datasets.Dataset(pq.read_table(parquet)).save_to_disk(str(tmp_path / "hf"))
    assert read_dataset_rows(tmp_path) == read_dataset_rows(parquet.parent)


def test_verdicts_for_trajectories_outside_the_corpus_are_refused_with_a_count(report_inputs):
    from srft.files.verdicts import CriticInfo, Verdict
    from srft.report.build import ReportError

    verdicts = dict(report_inputs["verdicts"])
    verdicts["ghost"] = Verdict(trajectory_id="ghost", critic=CriticInfo(name="rules"))
    with pytest.raises(ReportError, match=r"1 of \d+ verdicts are for trajectories not in"):
        collect_report_data(corpus=report_inputs["corpus"], verdicts=verdicts)


def test_settings_that_name_a_secret_are_never_written(report_inputs):
    settings = {
        "critic": {"api_key": "sk-live-123", "api_key_env": "OPENAI_API_KEY"},
        "max_tokens": 5,
    }
    data = collect_report_data(corpus=report_inputs["corpus"], settings=settings)
    assert data["settings"] == {
        "critic.api_key": "***",
        "critic.api_key_env": "OPENAI_API_KEY",
        "max_tokens": "5",
    }
    assert "sk-live-123" not in render_html(data)


def test_rollouts_of_each_model_are_merged_and_paired_by_episode(report_inputs):
    data = collect_report_data(corpus=report_inputs["corpus"], rollouts=report_inputs["rollouts"])
    rollouts = data["rollouts"]
    assert rollouts["episodes"] == 20 and list(rollouts["modes"]) == ["greedy", "T=1"]
    greedy = rollouts["modes"]["greedy"]
    assert list(greedy["students"]) == ["base", "srft"]
    base, srft = greedy["students"]["base"]["success"], greedy["students"]["srft"]["success"]
    assert srft["rate"] == 1.0 and base["rate"] < 1.0
    diff = greedy["paired"]["base - srft"]
    assert diff["diff"] == pytest.approx(base["rate"] - srft["rate"])
    assert "outcomes" not in greedy["students"]["base"]  # rates travel, not per-episode lists


def test_rollouts_on_different_episodes_are_refused_naming_the_files(tmp_path, report_inputs):
    other = json.loads(report_inputs["rollouts"][1].read_text())
    other["seed"] += 1
    (tmp_path / "other.json").write_text(json.dumps(other))
    with pytest.raises(ReportError, match="same episodes"):
        collect_report_data(
            corpus=report_inputs["corpus"],
            rollouts=[report_inputs["rollouts"][0], tmp_path / "other.json"],
        )


def test_a_file_that_is_not_a_rollout_is_refused(tmp_path, report_inputs):
    (tmp_path / "eval.json").write_text(json.dumps(report_inputs["eval_json"]))
    with pytest.raises(ReportError, match="not an srft rollout-results file"):
        collect_report_data(corpus=report_inputs["corpus"], rollouts=[tmp_path / "eval.json"])
