"""Real trajectories: two Gemini runs (one resolved, one unresolved) with `rules` verdicts
build under every policy, and every row passes the builder's verification."""

from __future__ import annotations

from pathlib import Path

import pytest

from srft.critic.rules import judge_rules
from srft.dataset.build import build_dataset, load_dataset_folder
from srft.dataset.encoder import IGNORE_INDEX
from srft.files.verdicts import VERDICTS

GEMINI = "mini-swe-agent-v1-gemini"
# Instance -> outcome; one run each (rows name runs by id, `<instance>@<digest>`).
RUNS = {"django__django-16429": "resolved", "django__django-15127": "unresolved"}


@pytest.fixture(scope="module")
def gemini_inputs(shared_trajectories: Path, tmp_path_factory) -> tuple[Path, Path]:
    from srft.corpus.ingest import ingest
    from srft.files.corpus import CORPUS

    root = shared_trajectories / GEMINI
    tmp = tmp_path_factory.mktemp("gemini")
    corpus = tmp / "corpus.jsonl"
    ingest(
        [root / "trajs" / run / f"{run}.traj.json" for run in RUNS],
        labels=[root / "logs" / run / "report.json" for run in RUNS],
        output=corpus,
    )
    verdicts = tmp / "verdicts.jsonl"
    VERDICTS.write(verdicts, [judge_rules(t) for t in CORPUS.read(corpus)])
    return corpus, verdicts


@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.parametrize(
    ("policy", "kept"),
    [
        ("sft", set(RUNS)),
        ("rft", {"django__django-16429"}),
        ("srft", set(RUNS)),
        ("srft-unresolved-only", {"django__django-15127"}),
        ("srft-resolved-only", {"django__django-16429"}),
    ],
)
def test_gemini_runs_build_under_each_policy(gemini_inputs, smollm2_path, tmp_path, policy, kept):
    corpus, verdicts = gemini_inputs
    summary = build_dataset(
        corpus, verdicts, policy=policy, tokenizer=smollm2_path, output=tmp_path, max_length=10**6
    )
    rows = load_dataset_folder(tmp_path)
    assert set(rows["instance_id"]) == kept
    assert summary.counts["read"] == 2 and summary.counts["rows"] == len(kept)
    for row in rows:
        assert row["outcome"] == RUNS[row["instance_id"]]
        masked = [s for s in row["steps"] if not s["trained"]]
        judged = policy.startswith("srft-") or (policy == "srft" and row["outcome"] != "resolved")
        if not judged:
            assert not masked
            continue
        # A judged run has exactly its `mistake` steps masked (the unresolved one has some).
        assert masked == [s for s in row["steps"] if s["label"] == "mistake"]
        assert masked or row["outcome"] == "resolved"
        for s in masked:
            assert set(row["labels"][s["start"] : s["end"]]) == {IGNORE_INDEX}
