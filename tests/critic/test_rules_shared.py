"""The rule critic on real published trajectories (../shared/data), spot-checked step by step."""

from __future__ import annotations

import pytest

from srft.corpus.ingest import ingest
from srft.critic.rules import judge_rules
from srft.critic.run import run_critic
from srft.files.corpus import CORPUS
from srft.files.verdicts import load_verdicts

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def shared_corpus(shared_trajectories, tmp_path_factory):
    out = tmp_path_factory.mktemp("shared") / "corpus.jsonl"
    ingest([shared_trajectories], output=out, skip_invalid=True)
    # One run per instance here: look runs up by their name (the id before the `@`).
    return {t.id.rsplit("@", 1)[0]: t for t in CORPUS.read(out)}, out


@pytest.mark.parametrize(
    ("trajectory_id", "step", "label", "rule"),
    [
        # mini-swe-agent v1 (Gemini): two actions in one answer -> FormatError
        ("astropy__astropy-13033", 26, "mistake", "rules/interrupt"),
        # mini-swe-agent v2 (DeepSeek, tool calls): the test script exits 1
        ("pydicom__pydicom-1256", 33, "mistake", "rules/nonzero-exit"),
        # legacy list of messages: `cat` of a file that does not exist
        ("github_issue", 0, "mistake", "rules/nonzero-exit"),
        # SWE-agent: the edit tool refuses an edit with a syntax error
        ("pydicom__pydicom-1458", 6, "mistake", "rules/edit-rejected"),
        # the same `sed -i` run again with the same (empty) output
        ("astropy__astropy-13236", 36, "unnecessary", "rules/repeat"),
        # an ordinary look at a file
        ("pylint-dev__astroid-1978", 3, "good", "rules/no-error"),
    ],
)
def test_rules_label_known_real_steps(shared_corpus, trajectory_id, step, label, rule):
    by_id, _ = shared_corpus
    verdict = judge_rules(by_id[trajectory_id])
    assert verdict.steps[step].label == label
    assert verdict.steps[step].reason.startswith(rule)


def test_rules_over_all_shared_data_give_every_step_a_label(shared_corpus, tmp_path):
    by_id, corpus = shared_corpus
    summary = run_critic(corpus, tmp_path / "v.jsonl", "rules")
    verdicts = load_verdicts(tmp_path / "v.jsonl")
    assert summary["trajectories"]["read"] == len(by_id) == summary["trajectories"]["ok"]
    assert all(len(verdicts[t.id].steps) == len(t.steps) for t in by_id.values())
    assert summary["labels"]["mistake"] > 0 and summary["labels"]["unnecessary"] > 0
