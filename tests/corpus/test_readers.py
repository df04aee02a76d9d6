"""Each reader maps its source format onto the canonical trajectory (project fixtures only)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srft.corpus.containers import expand_inputs, read_records
from srft.corpus.formats import FORMATS, detect, formats, get_format
from srft.corpus.formats.openai_chat import action_style
from srft.corpus.ingest import ingest
from srft.files.corpus import CorpusError


def test_mini_v1_steps_are_assistant_turns_with_the_next_user_message(ingest_one, fixtures_dir):
    t = ingest_one(fixtures_dir / "mini-swe-agent-v1/trajs/calc__add-1")["calc__add-1"]
    assert t.source.format == "mini-swe-agent-v1"
    assert len(t.steps) == 5
    assert [t.messages[o].role for s in t.steps for o in s.observations] == ["user"] * 4


def test_mini_v1_returncode_becomes_exit_code(ingest_one, fixtures_dir):
    t = ingest_one(fixtures_dir / "mini-swe-agent-v1/trajs/calc__add-1")["calc__add-1"]
    codes = [t.step_observations(i)[0].exit_code for i in range(4)]
    assert codes == [0, 0, 0, 1]


def test_mini_v1_provider_reasoning_is_kept_apart_from_content(ingest_one, fixtures_dir):
    t = ingest_one(fixtures_dir / "mini-swe-agent-v1/trajs/calc__add-1")["calc__add-1"]
    assert t.step_assistant(0).reasoning == "Thinking about step 0."
    assert "Thinking" not in t.step_assistant(0).content


def test_mini_v1_format_error_text_is_marked_as_an_interrupt(ingest_one, fixtures_dir):
    t = ingest_one(fixtures_dir / "mini-swe-agent-v1/trajs/calc__div-2")["calc__div-2"]
    (complaint,) = t.step_observations(0)
    assert complaint.role == "user"
    assert complaint.interrupt == "FormatError"
    assert t.step_observations(1)[0].interrupt is None


def test_mini_v1_metadata_comes_from_info(ingest_one, fixtures_dir):
    t = ingest_one(fixtures_dir / "mini-swe-agent-v1/trajs/calc__add-1")["calc__add-1"]
    assert t.metadata.model == "fixture/model-a"
    assert t.metadata.exit_status == "Submitted"
    assert t.metadata.cost == 0.0125
    assert t.metadata.patch.startswith("diff --git")


def test_mini_v2_parallel_tool_calls_are_one_step_answered_by_tool_messages(
    ingest_one, fixtures_dir
):
    t = ingest_one(fixtures_dir / "mini-swe-agent-v2/strs__pad-3.traj.json")["strs__pad-3"]
    first = t.step_assistant(0)
    assert [c.id for c in first.tool_calls] == ["call_1", "call_2"]
    assert first.tool_calls[0].arguments == {"command": "cat pad.py"}
    assert [m.tool_call_id for m in t.step_observations(0)] == ["call_1", "call_2"]


def test_mini_v2_format_error_is_kept_as_an_interrupt_observation(ingest_one, fixtures_dir):
    t = ingest_one(fixtures_dir / "mini-swe-agent-v2/strs__pad-3.traj.json")["strs__pad-3"]
    (observation,) = t.step_observations(1)
    assert observation.role == "user"
    assert observation.interrupt == "FormatError"


def test_mini_v2_exit_message_is_dropped_into_metadata(ingest_one, fixtures_dir):
    t = ingest_one(fixtures_dir / "mini-swe-agent-v2/strs__pad-3.traj.json")["strs__pad-3"]
    assert "exit" not in {m.role for m in t.messages}
    assert t.metadata.exit_status == "Submitted"
    assert t.metadata.patch == "diff --git a/pad.py b/pad.py\n"


def test_mini_v2_tool_returncode_becomes_exit_code(ingest_one, fixtures_dir):
    t = ingest_one(fixtures_dir / "mini-swe-agent-v2/strs__pad-3.traj.json")["strs__pad-3"]
    assert t.step_observations(3)[0].exit_code == 2


def test_malformed_tool_arguments_are_kept_raw_and_flagged(ingest_one, fixtures_dir):
    t = ingest_one(fixtures_dir / "mini-swe-agent-v2/strs__pad-3.traj.json")["strs__pad-3"]
    call = t.step_assistant(4).tool_calls[0]
    assert call.arguments_valid is False
    assert call.arguments == '{"command": "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT'


def test_mini_v2_reasoning_content_is_read_from_the_saved_response(ingest_one, fixtures_dir):
    t = ingest_one(fixtures_dir / "mini-swe-agent-v2/strs__pad-3.traj.json")["strs__pad-3"]
    assert t.step_assistant(0).reasoning == "Two files may matter."


def test_legacy_bare_list_is_one_trajectory_named_after_its_file(ingest_one, fixtures_dir):
    corpus = ingest_one(fixtures_dir / "mini-swe-agent-legacy/hello.traj.json")
    t = corpus["hello"]
    assert t.source.format == "mini-swe-agent-legacy"
    assert len(t.steps) == 3
    assert t.step_observations(0)[0].exit_code == 0


def test_swe_agent_demonstrations_are_demo_messages_not_steps(ingest_one, fixtures_dir):
    t = ingest_one(fixtures_dir / "swe-agent/greet__typo-5.traj")["greet__typo-5"]
    demos = [m for m in t.messages if m.demo]
    assert [m.role for m in demos] == ["user", "assistant"]
    assert len(t.steps) == 3
    assert all(not t.messages[s.assistant].demo for s in t.steps)


def test_swe_agent_task_is_the_first_non_demo_user_message(ingest_one, fixtures_dir):
    t = ingest_one(fixtures_dir / "swe-agent/greet__typo-5.traj")["greet__typo-5"]
    assert t.task == "We're currently solving the following issue: greet() misspells 'Hello'."


def test_swe_agent_tool_call_ids_pair_observations(ingest_one, fixtures_dir):
    t = ingest_one(fixtures_dir / "swe-agent/greet__typo-5.traj")["greet__typo-5"]
    assert t.step_observations(1)[0].tool_call_id == "call_edit"
    assert t.step_assistant(1).tool_calls[0].arguments["start"] == 2
    assert t.metadata.model == "fixture/model-c"


def test_openhands_calls_from_one_response_are_one_assistant_turn(ingest_one, fixtures_dir):
    t = ingest_one(fixtures_dir / "openhands/output.jsonl")["app__offbyone-6"]
    assert len(t.steps) == 3
    assert [c.id for c in t.step_assistant(0).tool_calls] == ["toolu_1", "toolu_2"]
    assert [m.tool_call_id for m in t.step_observations(0)] == ["toolu_1", "toolu_2"]
    assert t.step_observations(0)[0].exit_code == 0


def test_openhands_bookkeeping_events_are_dropped_and_counted(ingest_one, fixtures_dir):
    t = ingest_one(fixtures_dir / "openhands/output.jsonl")["app__offbyone-6"]
    assert t.metadata.extra["dropped_events"] == 2
    assert t.messages[0].role == "system"
    assert t.tools[0]["function"]["name"] == "execute_bash"


def test_openhands_eval_report_is_the_outcome(ingest_one, fixtures_dir):
    t = ingest_one(fixtures_dir / "openhands/output.jsonl")["app__offbyone-6"]
    assert t.outcome.status == "resolved"
    assert t.outcome.source == "in-file:test_result.report.resolved"


def test_openhands_old_stream_pairs_observations_in_order(ingest_one, fixtures_dir):
    t = ingest_one(fixtures_dir / "openhands/output.jsonl")["octo/app#7"]
    assert [t.step_assistant(i).tool_calls[0].name for i in range(3)] == [
        "run",
        "run_ipython",
        "finish",
    ]
    assert t.step_assistant(0).tool_calls[0].arguments == {"command": "pytest -q"}
    assert t.step_observations(0)[0].exit_code == 1


def test_openhands_llm_judged_success_is_not_an_outcome(ingest_one, fixtures_dir):
    t = ingest_one(fixtures_dir / "openhands/output.jsonl")["octo/app#7"]
    assert t.outcome.status == "unknown"
    assert t.outcome.details == {"success": False, "success_judged_by": "llm"}


def test_openai_rows_parse_string_arguments_and_keep_tools(ingest_one, fixtures_dir):
    t = ingest_one(fixtures_dir / "openai-chat/swe_gym_rows.jsonl")["lib__sum-7_0"]
    assert t.step_assistant(0).tool_calls[1].arguments == {"command": "cat test_lib.py"}
    assert [tool["function"]["name"] for tool in t.tools] == ["execute_bash", "str_replace_editor"]
    assert t.outcome.status == "resolved"
    assert t.outcome.source == "in-file:resolved"


def test_openai_rows_content_parts_are_joined(ingest_one, fixtures_dir):
    t = ingest_one(fixtures_dir / "openai-chat/swe_gym_rows.jsonl")["lib__sum-7_0"]
    assert t.task == "sum() skips the last element"


def test_openhands_exit_code_line_in_tool_text_becomes_exit_code(ingest_one, fixtures_dir):
    t = ingest_one(fixtures_dir / "openai-chat/swe_gym_rows.jsonl")["lib__max-8_1"]
    assert t.step_observations(0)[0].exit_code == 1


def test_swe_smith_messages_stored_as_json_string_are_read(ingest_one, fixtures_dir):
    corpus = ingest_one(fixtures_dir / "openai-chat/swe_smith_rows.json")
    t = corpus["dates__parse.abc123.lm_rewrite__x1.t1_0"]
    assert t.instance_id == "dates__parse.abc123.lm_rewrite__x1"
    assert len(t.steps) == 2
    assert t.metadata.model == "fixture/model-e"


def test_swe_smith_text_action_styles_are_recorded(ingest_one, fixtures_dir):
    corpus = ingest_one(fixtures_dir / "openai-chat/swe_smith_rows.json")
    styles = {t.id: t.metadata.extra["action_style"] for t in corpus.values()}
    assert styles == {
        "dates__parse.abc123.lm_rewrite__x1.t1_0": "xml",
        "text__slug.def456.func_pm__y2.t2_0": "ticks",
    }


def test_action_style_prefers_tool_calls(ingest_one, fixtures_dir):
    t = ingest_one(fixtures_dir / "openai-chat/swe_gym_rows.jsonl")["lib__sum-7_0"]
    assert action_style(t.messages) == "tool_calls"


def test_nebius_ai_turns_are_assistant_steps_and_target_is_the_outcome(ingest_one, fixtures_dir):
    corpus = ingest_one(fixtures_dir / "nebius-swe-agent/rows.json")
    t = corpus["geo__area-9_3"]
    assert len(t.steps) == 3
    assert t.messages[0].content == "SETTING: You are an autonomous programmer."
    assert t.outcome.status == "resolved"
    assert corpus["geo__perimeter-10_0"].outcome.status == "unresolved"


def test_detection_reads_content_not_file_names(tmp_path: Path, fixtures_dir):
    renamed = tmp_path / "whatever.json"
    renamed.write_bytes((fixtures_dir / "swe-agent/greet__typo-5.traj").read_bytes())
    assert detect(json.loads(renamed.read_text())).name == "swe-agent"


def test_every_registered_format_has_a_fixture(format_fixtures):
    seen = set()
    for path in expand_inputs(format_fixtures).paths:
        for record in read_records(path):
            fmt = detect(record.data)
            if fmt is not None:
                seen.add(fmt.name)
    # srft-corpus reads what ingest writes; its input is made in the test below, not a fixture.
    assert seen == {f.name for f in formats()} - {"srft-corpus"}


def test_every_builtin_format_is_registered_under_its_own_name():
    names = FORMATS.names()
    assert names and all(FORMATS.get(name).name == name for name in names)


def test_detection_tries_the_formats_by_priority():
    priorities = [f.priority for f in formats()]
    assert priorities == sorted(priorities, reverse=True)


def test_unknown_format_name_lists_the_known_ones():
    with pytest.raises(CorpusError, match=r"known formats: .*mini-swe-agent-v1"):
        get_format("no-such-format")


def test_a_corpus_ingested_again_is_unchanged(tmp_path, format_fixtures):
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    ingest(list(format_fixtures), output=first)
    summary = ingest([first], output=second)
    assert summary.accepted == 14
    assert first.read_bytes() == second.read_bytes()
