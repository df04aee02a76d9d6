"""The bad-input suite: every broken record gets a clear error, or a reject with its reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from srft.corpus.ingest import ingest
from srft.files.corpus import CORPUS, CorpusError


def v2_run(instance_id: str = "pkg__bug-1", *, observation: str = "ok") -> dict[str, Any]:
    """A small valid mini-swe-agent v2 run to break in the tests."""
    return {
        "info": {"exit_status": "Submitted", "submission": ""},
        "trajectory_format": "mini-swe-agent-1.1",
        "instance_id": instance_id,
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Fix the bug."},
            {
                "role": "assistant",
                "content": "Look.",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "bash", "arguments": "{}"},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": observation},
        ],
    }


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def expect_error(tmp_path: Path, source: Path, *reason_parts: str) -> str:
    """Ingest must stop with an error naming the file, the record and each reason part."""
    with pytest.raises(CorpusError) as caught:
        ingest([source], output=tmp_path / "out.jsonl")
    message = str(caught.value)
    assert str(source) in message
    assert "record" in message
    for part in reason_parts:
        assert part in message
    assert not (tmp_path / "out.jsonl").exists(), "no partial corpus may be left behind"
    return message


def expect_reject(tmp_path: Path, source: Path, reason_part: str, *, accepted: int = 0) -> None:
    """With skip_invalid the record is rejected with its reason, and read = accepted + rejected."""
    rejects = tmp_path / "rejects.jsonl"
    summary = ingest([source], output=tmp_path / "out.jsonl", skip_invalid=True, rejects=rejects)
    lines = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert summary.rejected == len(lines) >= 1
    assert summary.accepted == accepted
    assert summary.read == summary.accepted + summary.rejected
    assert reason_part in lines[0]["reason"]
    assert lines[0]["file"].startswith(str(source))


def test_truncated_json_file_is_an_error(tmp_path):
    source = tmp_path / "run.traj.json"
    source.write_text(json.dumps(v2_run())[:-40])
    expect_error(tmp_path, source, "not valid JSON")


def test_truncated_json_file_is_rejected_with_skip_invalid(tmp_path):
    source = tmp_path / "run.traj.json"
    source.write_text(json.dumps(v2_run())[:-40])
    expect_reject(tmp_path, source, "not valid JSON")


def test_truncated_jsonl_line_is_rejected_and_the_other_lines_kept(tmp_path):
    source = tmp_path / "runs.jsonl"
    good = json.dumps(v2_run("a__b-1"))
    source.write_text(
        good
        + "\n"
        + json.dumps(v2_run("a__b-2"))[:100]
        + "\n"
        + good.replace("a__b-1", "a__b-3")
        + "\n"
    )
    expect_reject(tmp_path, source, "not valid JSON", accepted=2)


def test_truncated_json_array_names_the_item(tmp_path):
    source = tmp_path / "rows.json"
    rows = json.dumps(
        [{"messages": v2_run()["messages"], "instance_id": f"x-{n}"} for n in range(3)]
    )
    source.write_text(rows[:-30])
    expect_error(tmp_path, source, "not valid JSON", "record 2")


def test_messages_of_the_wrong_type_are_an_error(tmp_path):
    run = v2_run()
    run["messages"] = "not a list"
    expect_error(tmp_path, write(tmp_path / "r.json", run), "messages must be a JSON array")


def test_content_of_the_wrong_type_is_an_error(tmp_path):
    run = v2_run()
    run["messages"][1]["content"] = 42
    expect_error(tmp_path, write(tmp_path / "r.json", run), "message 1 content", "number")


def test_tool_call_without_a_name_is_an_error(tmp_path):
    run = v2_run()
    run["messages"][2]["tool_calls"][0]["function"]["name"] = None
    expect_error(tmp_path, write(tmp_path / "r.json", run), "no function name")


def test_unknown_role_is_an_error(tmp_path):
    run = v2_run()
    run["messages"][1]["role"] = "robot"
    expect_error(tmp_path, write(tmp_path / "r.json", run), "unknown role 'robot'")


def test_unknown_role_is_rejected_with_skip_invalid(tmp_path):
    run = v2_run()
    run["messages"][1]["role"] = "robot"
    expect_reject(tmp_path, write(tmp_path / "r.json", run), "unknown role 'robot'")


def test_tool_message_answering_no_call_is_an_error(tmp_path):
    run = v2_run()
    run["messages"][3]["tool_call_id"] = "never-made"
    expect_error(tmp_path, write(tmp_path / "r.json", run), "'never-made'")


def test_tool_message_before_any_assistant_turn_is_an_error(tmp_path):
    run = v2_run()
    run["messages"].insert(1, {"role": "tool", "content": "stray"})
    expect_error(tmp_path, write(tmp_path / "r.json", run), "answers no call")


def test_trajectory_without_assistant_turns_is_an_error(tmp_path):
    run = v2_run()
    run["messages"] = run["messages"][:2]
    expect_error(tmp_path, write(tmp_path / "r.json", run), "empty trajectory")


def test_empty_json_array_is_an_error(tmp_path):
    source = tmp_path / "rows.json"
    source.write_text("[]")
    expect_error(tmp_path, source, "empty JSON array")


def test_invalid_utf8_is_an_error(tmp_path):
    source = tmp_path / "r.json"
    source.write_bytes(json.dumps(v2_run()).encode().replace(b"Fix the bug", b"Fix \xff bug"))
    expect_error(tmp_path, source, "invalid UTF-8 at byte")


def test_invalid_utf8_line_is_rejected_with_skip_invalid(tmp_path):
    source = tmp_path / "r.jsonl"
    good = json.dumps(v2_run("a__b-1")).encode()
    bad = json.dumps(v2_run("a__b-2")).encode().replace(b"Fix the bug", b"Fix \xc3\x28 bug")
    source.write_bytes(good + b"\n" + bad + b"\n")
    expect_reject(tmp_path, source, "invalid UTF-8", accepted=1)


def test_lone_surrogate_is_an_error(tmp_path):
    source = tmp_path / "r.json"
    source.write_text(json.dumps(v2_run()).replace("Fix the bug", "Fix \\ud800 bug"))
    expect_error(tmp_path, source, "lone surrogate")


def test_a_10_mb_observation_is_accepted_intact(tmp_path):
    big = "0123456789abcdef\n" * (10 * 1024 * 1024 // 17 + 1)
    source = write(tmp_path / "big.traj.json", v2_run(observation=big))
    summary = ingest([source], output=tmp_path / "out.jsonl")
    assert summary.accepted == 1
    (trajectory,) = CORPUS.read(tmp_path / "out.jsonl")
    assert trajectory.step_observations(0)[0].content == big
    assert len(big) >= 10 * 1024 * 1024


def _two_corpora_sharing_an_id(tmp_path: Path) -> tuple[Path, Path]:
    """Two corpora whose one run has the same id but different content (edited by hand)."""
    first = tmp_path / "first.jsonl"
    ingest([write(tmp_path / "a.json", v2_run("same__id-1"))], output=first)
    record = json.loads(first.read_text())
    record["messages"][-1]["content"] = "edited"
    second = tmp_path / "second.jsonl"
    second.write_text(json.dumps(record) + "\n")
    return first, second


def test_duplicate_trajectory_ids_are_an_error_naming_the_first(tmp_path):
    first, second = _two_corpora_sharing_an_id(tmp_path)
    with pytest.raises(CorpusError, match="duplicate trajectory id 'same__id-1@") as caught:
        ingest([first, second], output=tmp_path / "out.jsonl")
    assert str(first) in str(caught.value)
    assert str(second) in str(caught.value)


def test_duplicate_trajectory_ids_are_rejected_with_skip_invalid(tmp_path):
    folder = tmp_path / "corpora"
    folder.mkdir()
    first, second = _two_corpora_sharing_an_id(tmp_path)
    first.rename(folder / first.name)
    second.rename(folder / second.name)
    expect_reject(tmp_path, folder, "duplicate trajectory id", accepted=1)


def test_unrecognised_record_is_an_error_that_shows_its_keys(tmp_path):
    source = write(tmp_path / "r.json", {"foo": 1, "bar": 2})
    expect_error(tmp_path, source, "no known trajectory format", "foo, bar")


def test_labels_naming_unknown_instances_are_reported_not_fatal(tmp_path):
    source = write(tmp_path / "r.json", v2_run("known__one-1"))
    labels = tmp_path / "labels.csv"
    labels.write_text("instance_id,resolved\nknown__one-1,true\nghost__one-2,false\n")
    summary = ingest([source], labels=[labels], output=tmp_path / "out.jsonl")
    assert summary.accepted == 1
    assert summary.unknown_label_instances == ["ghost__one-2"]


def test_conflicting_labels_are_an_error_naming_both_sources(tmp_path):
    source = write(tmp_path / "r.json", v2_run("both__ways-1"))
    yes = write(tmp_path / "yes.json", {"resolved_ids": ["both__ways-1"], "unresolved_ids": []})
    no = write(tmp_path / "no.json", {"resolved_ids": [], "unresolved_ids": ["both__ways-1"]})
    with pytest.raises(CorpusError, match="conflicting labels") as caught:
        ingest([source], labels=[yes, no], output=tmp_path / "out.jsonl")
    assert str(yes) in str(caught.value)
    assert str(no) in str(caught.value)


def test_in_file_label_conflicting_with_a_label_file_is_an_error(tmp_path):
    source = write(
        tmp_path / "rows.json",
        [{"instance_id": "row__one-1", "resolved": True, "messages": v2_run()["messages"]}],
    )
    no = write(tmp_path / "no.json", {"resolved_ids": [], "unresolved_ids": ["row__one-1"]})
    with pytest.raises(CorpusError, match="in-file:resolved says resolved") as caught:
        ingest([source], labels=[no], output=tmp_path / "out.jsonl")
    assert str(no) in str(caught.value)


def test_a_labels_file_that_holds_no_labels_is_an_error(tmp_path):
    labels = write(tmp_path / "labels.json", {"hello": "world"})
    with pytest.raises(CorpusError, match="not a labels file"):
        ingest([write(tmp_path / "r.json", v2_run())], labels=[labels], output=tmp_path / "o")


def test_a_missing_input_is_an_error(tmp_path):
    with pytest.raises(CorpusError, match="no such file or folder"):
        ingest([tmp_path / "nope.json"], output=tmp_path / "out.jsonl")


def test_a_glob_matching_nothing_is_an_error(tmp_path):
    with pytest.raises(CorpusError, match="matches no file"):
        ingest([str(tmp_path / "*.traj.json")], output=tmp_path / "out.jsonl")


def test_nan_and_infinity_are_not_json_and_are_an_error(tmp_path):
    source = tmp_path / "r.json"
    source.write_text(json.dumps(v2_run()).replace('"Submitted"', "NaN"))
    expect_error(tmp_path, source, "NaN is not a JSON number")
