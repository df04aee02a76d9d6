"""`build_dataset` end to end: files in, dataset folder out, bad input refused clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from srft.dataset.build import BuildError, build_dataset, load_dataset_folder
from srft.files.corpus import CORPUS
from srft.files.verdicts import VERDICTS

from .conftest import trajectory, verdict

TURNS = [
    {"say": "Look.", "call": "ls", "obs": "a.py"},
    {"say": "Break it.", "call": "rm -rf a.py", "obs": "removed"},
    {"say": "Done."},
]


@pytest.fixture()
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    trajs = [
        trajectory(TURNS, id="r1", outcome="resolved"),
        trajectory(TURNS, id="u1", outcome="unresolved"),
        trajectory(TURNS, id="k1", outcome="unknown"),
    ]
    corpus, verdicts = tmp_path / "corpus.jsonl", tmp_path / "verdicts.jsonl"
    CORPUS.write(corpus, trajs)
    VERDICTS.write(verdicts, [verdict(t.id, ["good", "mistake", "good"]) for t in trajs])
    return corpus, verdicts


def _build(inputs, out: Path, **kw):
    corpus, verdicts = inputs
    kw.setdefault("policy", "srft")
    kw.setdefault("max_length", 4096)
    return build_dataset(corpus, verdicts, tokenizer=kw.pop("tokenizer"), output=out, **kw)


def test_build_writes_the_dataset_folder_of_the_contract(inputs, smollm2_path, tmp_path):
    summary = _build(inputs, tmp_path / "ds", tokenizer=smollm2_path)
    ds = load_dataset_folder(tmp_path / "ds")
    assert ds["trajectory_id"] == ["r1", "u1"]  # unknown outcome dropped by srft
    for column in ("instance_id", "outcome", "policy", "input_ids", "labels", "steps"):
        assert column in ds.column_names
    assert str(ds.features["input_ids"].feature) == "Value('int32')"
    u1 = ds[1]
    assert [s["trained"] for s in u1["steps"]] == [True, False, True]
    assert [s["label"] for s in u1["steps"]] == ["good", "mistake", "good"]
    assert u1["num_trained"] == sum(1 for x in u1["labels"] if x != -100)
    assert pq.read_table(tmp_path / "ds" / "data.parquet").num_rows == 2
    manifest = json.loads((tmp_path / "ds" / "build.json").read_text())
    assert manifest["format"] == "srft.dataset" and manifest["policy"]["name"] == "srft"
    assert manifest["policy"]["options"]["mask"] == ["mistake"]
    assert len(manifest["inputs"]["corpus"]["sha256"]) == 64
    assert len(manifest["chat_template"]["sha256"]) == 64
    assert summary.counts == {
        "read": 3,
        "rows": 2,
        "dropped": 1,
        "rejected": 0,
        "skipped_overlong": 0,
        "truncated": 0,
        "truncated_steps": 0,
    }


def test_same_inputs_give_byte_identical_outputs(inputs, smollm2_path, tmp_path):
    _build(inputs, tmp_path / "a", tokenizer=smollm2_path)
    _build(inputs, tmp_path / "b", tokenizer=smollm2_path)
    files_a = sorted(
        p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()
    )
    files_b = sorted(
        p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file()
    )
    assert files_a == files_b and len(files_a) >= 6
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_stats_count_trained_and_masked_tokens_per_label(inputs, smollm2_path, tmp_path):
    summary = _build(inputs, tmp_path / "ds", tokenizer=smollm2_path)
    stats = json.loads((tmp_path / "ds" / "stats.json").read_text())
    assert stats == summary.stats
    assert stats["steps_by_label"]["mistake"] == {
        "trained": 1,
        "masked": 1,
    }  # r1 trained, u1 masked
    assert stats["steps_by_label"]["good"] == {"trained": 4, "masked": 0}
    ds = load_dataset_folder(tmp_path / "ds")
    assert stats["tokens"]["trained"] == sum(ds["num_trained"])
    assert stats["trajectories"]["unknown"] == {"dropped:unknown": 1}
    assert sum(stats["length_histogram"].values()) == 2


def test_verdicts_for_trajectories_not_in_the_corpus_are_an_error(inputs, smollm2_path, tmp_path):
    _corpus, verdicts = inputs
    with verdicts.open("a") as f:
        f.write(json.dumps(verdict("ghost", ["good"]).model_dump(mode="json")) + "\n")
    with pytest.raises(BuildError, match=r"verdicts for 1 trajectories not in .*'ghost'"):
        _build(inputs, tmp_path / "ds", tokenizer=smollm2_path)


def test_a_verdict_with_the_wrong_number_of_steps_is_an_error_naming_the_trajectory(
    inputs, smollm2_path, tmp_path
):
    _corpus, verdicts = inputs
    VERDICTS.write(verdicts, [verdict("u1", ["good", "mistake"])])
    with pytest.raises(BuildError, match=r"trajectory 'u1': the verdict labels 2 steps but .* 3"):
        _build(inputs, tmp_path / "ds", tokenizer=smollm2_path)


def test_srft_without_a_verdicts_file_is_an_error(inputs, smollm2_path, tmp_path):
    corpus, _ = inputs
    with pytest.raises(BuildError, match="policy 'srft' needs critic verdicts: pass --verdicts"):
        build_dataset(
            corpus,
            None,
            policy="srft",
            tokenizer=smollm2_path,
            output=tmp_path / "ds",
            max_length=4096,
        )


def test_a_missing_verdict_is_an_error_or_a_counted_rejection_with_skip_invalid(
    inputs, smollm2_path, tmp_path
):
    _corpus, verdicts = inputs
    VERDICTS.write(verdicts, [verdict("r1", ["good"] * 3)])
    with pytest.raises(BuildError, match=r"corpus.jsonl:2: trajectory 'u1' has no verdict"):
        _build(inputs, tmp_path / "ds", tokenizer=smollm2_path)
    summary = _build(inputs, tmp_path / "ds", tokenizer=smollm2_path, skip_invalid=True)
    c = summary.counts
    assert (c["read"], c["rows"], c["dropped"], c["rejected"]) == (3, 1, 1, 1)
    rejected = [
        json.loads(x) for x in (tmp_path / "ds" / "rejected.jsonl").read_text().splitlines()
    ]
    assert rejected[0]["trajectory_id"] == "u1" and "no verdict" in rejected[0]["reason"]


def test_an_invalid_corpus_line_is_rejected_and_counted(inputs, smollm2_path, tmp_path):
    corpus, _ = inputs
    with corpus.open("a") as f:
        f.write('{"format": "srft.corpus", "version": 1, "id": "bad"}\n')
    summary = _build(inputs, tmp_path / "ds", tokenizer=smollm2_path, skip_invalid=True)
    c = summary.counts
    assert c["read"] == 4 and c["read"] == c["rows"] + c["dropped"] + c["rejected"]


def test_a_build_that_leaves_no_row_is_refused_with_its_counts(inputs, smollm2_path, tmp_path):
    with pytest.raises(BuildError, match=r"no row left to train on.*skipped_overlong 3"):
        _build(
            inputs,
            tmp_path / "ds",
            tokenizer=smollm2_path,
            policy="sft",
            max_length=20,
            overlong="skip",
        )
    assert not (tmp_path / "ds" / "hf").exists()


@pytest.mark.slow
def test_worker_processes_give_the_same_bytes(inputs, smollm2_path, tmp_path):
    _build(inputs, tmp_path / "one", tokenizer=smollm2_path, policy="sft")
    _build(inputs, tmp_path / "two", tokenizer=smollm2_path, policy="sft", num_proc=2)
    for name in ("data.parquet", "build.json", "stats.json"):
        one, two = (tmp_path / d / name for d in ("one", "two"))
        if name == "build.json":  # the manifest records nothing about processes
            assert json.loads(one.read_text()) == json.loads(two.read_text())
        assert one.read_bytes() == two.read_bytes(), name


@pytest.mark.slow
def test_worker_processes_apply_the_caps_in_corpus_order(smollm2_path, tmp_path):
    # Three runs of one instance and a cap of 2: the workers judge and encode, the caps (which
    # count the runs kept so far) keep the first two in corpus order, as one process does.
    runs = [
        trajectory(TURNS, id=f"r{k}", outcome="resolved").model_copy(update={"instance_id": "i"})
        for k in range(3)
    ]
    corpus = tmp_path / "corpus.jsonl"
    CORPUS.write(corpus, runs)
    built = {}
    for procs in (1, 2):
        summary = build_dataset(
            corpus,
            None,
            policy="sft",
            policy_options={"max_resolved_per_instance": 2},
            tokenizer=smollm2_path,
            output=tmp_path / f"x{procs}",
            max_length=4096,
            num_proc=procs,
        )
        assert summary.counts["rows"] == 2 and summary.counts["dropped"] == 1
        built[procs] = (tmp_path / f"x{procs}" / "data.parquet").read_bytes()
    assert built[1] == built[2]
    assert load_dataset_folder(tmp_path / "x2")["trajectory_id"] == ["r0", "r1"]


@pytest.mark.slow
def test_worker_processes_stop_at_the_first_bad_line_in_corpus_order(
    inputs, smollm2_path, tmp_path
):
    corpus, _ = inputs
    with corpus.open("a") as f:
        f.write('{"format": "srft.corpus", "version": 1, "id": "bad"}\n')
    for procs in (1, 2):  # line 1 is too long for max_length 20 before line 4 is read as bad
        with pytest.raises(BuildError, match=r"corpus.jsonl:1: .*exceed --max-length 20"):
            _build(inputs, tmp_path / f"x{procs}", tokenizer=smollm2_path, policy="sft",
                   max_length=20, num_proc=procs)  # fmt: skip


def test_a_folder_that_is_not_an_srft_dataset_is_refused(tmp_path):
    (tmp_path / "build.json").write_text('{"format": "something-else"}')
    with pytest.raises(BuildError, match=r"build.json: not an srft dataset"):
        load_dataset_folder(tmp_path)
