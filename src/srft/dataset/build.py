"""Build the masked training set: judge, encode, count, write the dataset folder.

For each trajectory the chosen policy decides which steps are trained (`policies.py`); the
encoder renders, tokenizes once, labels and verifies its row (`encoder.py`); lines are handled
in this process or in worker processes (`workers.py`), and here the results are counted and the
rows written (`rows.py`). A per-trajectory error stops the build, or with `skip_invalid` becomes
a rejection; nothing is lost silently (read = rows + dropped + rejected + skipped).

Outputs (`docs/dataset.md`): `hf/` (datasets `save_to_disk`), `data.parquet`, `build.json`
(the manifest), `stats.json`, and `rejected.jsonl` when anything was rejected. The same inputs
give byte-identical files: rows keep corpus order (also with `num_proc > 1`), and no timestamp
or random fingerprint is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from srft.dataset.encoder import BuildError, Encoded, Overlong, Reasoning, make_encoder
from srft.dataset.policies import Decision, Policy, PolicyError, make_policy
from srft.dataset.render import load_template_file
from srft.dataset.rows import RowSink, write_hf_folder
from srft.dataset.stats import BuildStats
from srft.dataset.verdict_index import VerdictIndex
from srft.dataset.workers import LineBuilder, LineResult, RowSettings, corpus_lines, line_results
from srft.files import dataset_manifest
from srft.files.base import FileFormatError
from srft.files.verdicts import VerdictError
from srft.models import ModelNotFound, resolve_model
from srft.outputs import OutputError, atomic_folder, check_output
from srft.paths import require_regular_file
from srft.shard import Shard


@dataclass
class BuildSummary:
    """What a build read, kept, dropped and rejected, and where it wrote the dataset."""

    output: Path
    counts: dict[str, int]
    stats: dict[str, Any]
    manifest: dict[str, Any] = field(repr=False)


def build_dataset(
    corpus: Path,
    verdicts: Path | None,
    *,
    policy: str,
    tokenizer: str | Path,
    output: Path,
    max_length: int,
    overlong: Overlong = "error",
    chat_template: Path | None = None,
    policy_options: dict[str, Any] | None = None,
    skip_invalid: bool = False,
    num_proc: int = 1,
    overwrite: bool = True,
    shard: Shard | None = None,
    end_of_turn: list[str] | tuple[str, ...] = (),
    reasoning: Reasoning = "template",
) -> BuildSummary:
    """Build the masked dataset of `corpus` under `policy` into the folder `output`.

    `verdicts` is the critic's file (required by the critic policies); `tokenizer` a local
    folder or hub id whose chat template renders the trajectories (`chat_template` overrides
    it); `overlong` says what happens to a trajectory longer than `max_length` tokens;
    `skip_invalid` turns per-trajectory errors into rejections recorded in `rejected.jsonl`;
    `num_proc` > 1 encodes in that many worker processes (same output). `overwrite`: False
    refuses an existing `output` (the CLI's default); the folder is written under a temporary
    name and renamed when complete. `shard` builds only every N-th corpus line (`srft.shard`).
    `end_of_turn` are extra stop tokens that end a model's turn (`--end-of-turn`, see
    `template.py`); `reasoning="every-turn"` trains each turn whose reasoning the template drops
    from history in a row of its own, as the latest turn (`docs/dataset.md`, "Reasoning").
    (Longer than most functions: build.json's fields are spelled out here, in one block.)
    """
    corpus, output, shard = Path(corpus), Path(output), shard or Shard()
    settings, pol = _settings(
        corpus, verdicts, output, overwrite, tokenizer, chat_template, end_of_turn,
        policy, policy_options, max_length, overlong, reasoning,
    )  # fmt: skip
    tokenizer = settings.tokenizer
    encoder = make_encoder(tokenizer, settings.chat_template, settings.end_of_turn)
    tally = _Tally(output, skip_invalid)
    elsewhere = tally.add_all(
        corpus, shard, LineBuilder(settings, encoder, pol), num_proc, reasoning
    )
    tally.reject_unknown_verdicts(settings.verdicts, elsewhere, corpus)
    counts, stats = tally.counts, tally.stats

    manifest = {
        "format": dataset_manifest.FORMAT,
        "version": dataset_manifest.VERSION,
        "srft_version": _srft_version(),
        "inputs": {
            "corpus": {"path": str(corpus), "sha256": _file_hash(corpus)},
            "verdicts": None
            if verdicts is None
            else {"path": str(verdicts), "sha256": _file_hash(Path(verdicts))},
        },
        "tokenizer": _tokenizer_identity(tokenizer, encoder.tokenizer),
        "chat_template": {
            "source": str(chat_template) if chat_template is not None else "tokenizer",
            **encoder.renderer.describe(),
        },
        "policy": pol.describe(),
        "max_length": max_length,
        "overlong": overlong,
        "skip_invalid": skip_invalid,
        "shard": str(shard),
        "reasoning_mode": reasoning,
        "counts": counts,
    }
    stats_doc = stats.to_dict()
    manifest["reasoning"] = stats_doc["reasoning"]
    tally.write(output, manifest, stats_doc, encoder.renderer.template, corpus, pol.name)
    return BuildSummary(output=output, counts=counts, stats=stats_doc, manifest=manifest)


def _settings(
    corpus: Path,
    verdicts: Path | None,
    output: Path,
    overwrite: bool,
    tokenizer: str | Path,
    chat_template: Path | None,
    end_of_turn: list[str] | tuple[str, ...],
    policy: str,
    policy_options: dict[str, Any] | None,
    max_length: int,
    overlong: Overlong,
    reasoning: Reasoning,
) -> tuple[RowSettings, Policy]:
    """The checked settings of a build and its policy; a `BuildError` for the first bad one.

    A tokenizer that cannot be had fails before anything is read or imported.
    """
    if reasoning not in ("template", "every-turn"):
        raise BuildError(f"--reasoning must be template or every-turn, not {reasoning!r}")
    require_regular_file(corpus, BuildError)
    try:
        check_output(output, kind="folder", overwrite=overwrite)
        tokenizer = resolve_model(tokenizer, "tokenizer")
    except (ModelNotFound, OutputError) as e:
        raise BuildError(str(e)) from e
    if overlong not in ("error", "skip", "truncate"):
        raise BuildError(f"--overlong must be error, skip or truncate, not {overlong!r}")
    if max_length <= 0:
        raise BuildError(f"--max-length must be positive, not {max_length}")
    try:
        pol = make_policy(policy, policy_options)
    except PolicyError as e:
        raise BuildError(str(e)) from e
    if pol.needs_verdicts and verdicts is None:
        raise BuildError(f"policy {policy!r} needs critic verdicts: pass --verdicts FILE")
    try:
        index = VerdictIndex(verdicts)
    except (VerdictError, FileFormatError, OSError) as e:
        raise BuildError(str(e)) from e
    template = load_template_file(chat_template) if chat_template is not None else None
    settings = RowSettings(
        str(tokenizer), template, tuple(end_of_turn), policy, policy_options, index,
        max_length, overlong, reasoning,
    )  # fmt: skip
    return settings, pol


class _Tally:
    """What a build has read, dropped, rejected and written so far.

    A kept trajectory is counted as kept only once its row is written: one that turns out too
    long (or fails to encode) is counted as what happened to it instead, so the per-outcome
    counts add up to the rows of the dataset.
    """

    def __init__(self, output: Path, skip_invalid: bool) -> None:
        self.rows = RowSink(output)  # to disk in batches: memory holds one batch, not the dataset
        self.skip_invalid = skip_invalid
        self.stats = BuildStats()
        self.rejected: list[dict[str, Any]] = []
        self.seen: set[str] = set()  # ids of this shard's trajectories
        self.counts = {
            "read": 0,
            "rows": 0,
            "dropped": 0,
            "rejected": 0,
            "skipped_overlong": 0,
            "truncated": 0,
            "truncated_steps": 0,
        }

    def add_all(
        self, corpus: Path, shard: Shard, builder: LineBuilder, num_proc: int, reasoning: Reasoning
    ) -> set[str]:
        """Count and write every line of this shard; returns the ids of the other shards'
        lines (their verdicts are not unknown)."""
        elsewhere: set[str] = set()
        try:
            for result in line_results(
                lambda: corpus_lines(corpus, shard, elsewhere), builder, num_proc
            ):
                self.add(result)
            self.rows.close()
        except BaseException:
            self.rows.discard()
            raise
        finally:
            builder.settings.verdicts.close()
        turn_rows = self.stats.reasoning["turn_rows"]
        self.counts["rows"] = self.rows.count - turn_rows  # read = rows + dropped + ...
        if reasoning == "every-turn":
            self.counts["turn_rows"] = turn_rows
        return elsewhere

    def reject(self, where: str, trajectory_id: str | None, reason: str) -> None:
        """Record a rejection, or stop the build with it unless `skip_invalid`."""
        if not self.skip_invalid:
            raise BuildError(reason if reason.startswith(where) else f"{where}: {reason}")
        self.rejected.append({"where": where, "trajectory_id": trajectory_id, "reason": reason})
        self.counts["rejected"] += 1

    def add(self, result: LineResult) -> None:
        """Count one line's result and write its rows."""
        self.counts["read"] += 1
        if result.trajectory_id is not None:
            self.seen.add(result.trajectory_id)
        decision = result.decision
        if decision is None or (decision.keep and result.error is not None):
            self.reject(result.where, result.trajectory_id, result.error or "")
        elif not decision.keep:
            self.stats.add_decision(result.outcome, decision)
            self.counts["dropped"] += 1
        else:
            assert result.encoded is not None, f"{result.where}: kept but not encoded"
            self._add_encoded(result.outcome, decision, result.encoded)

    def _add_encoded(self, outcome: str, decision: Decision, encoded: Encoded) -> None:
        if encoded.row is None:
            self.counts["skipped_overlong"] += 1
            self.stats.add_skipped(outcome, "skipped:overlong")
            return
        if encoded.truncated_steps:
            self.counts["truncated"] += 1
            self.counts["truncated_steps"] += encoded.truncated_steps
        self.rows.add(encoded.row)
        self.stats.add_decision(outcome, decision)
        self.stats.add_row(encoded.row)
        self.stats.add_reasoning(*encoded.reasoning)
        for turn_row in encoded.turn_rows:
            self.rows.add(turn_row)
            self.stats.add_turn_row(turn_row)

    def reject_unknown_verdicts(
        self, verdicts: VerdictIndex, elsewhere: set[str], corpus: Path
    ) -> None:
        """Verdicts for trajectories in no shard of the corpus: an error, or with
        `skip_invalid` rejections counted apart (they are verdicts, not trajectories)."""
        unknown = sorted(verdicts.ids() - self.seen - elsewhere)
        if not unknown:
            return
        message = (
            f"{verdicts.path}: verdicts for {len(unknown)} trajectories not in {corpus}, "
            f"e.g. {unknown[0]!r} (were they judged on another corpus?)"
        )
        if not self.skip_invalid:
            self.rows.discard()
            raise BuildError(message)
        self.counts["unknown_verdicts"] = len(unknown)
        for trajectory_id in unknown:
            self.rejected.append(
                {
                    "where": str(verdicts.path),
                    "trajectory_id": trajectory_id,
                    "reason": "a verdict for a trajectory that is not in the corpus",
                }
            )

    def write(
        self,
        output: Path,
        manifest: dict[str, Any],
        stats_doc: dict[str, Any],
        template: str,
        corpus: Path,
        policy: str,
    ) -> None:
        """Move the rows into `output` with the manifest, the stats and the template; a
        `BuildError` (and only `rejected.jsonl` written) when no row is left."""
        if not self.rows.count:
            # A dataset of no rows would train nothing, and `datasets` cannot load the empty
            # folder it writes: refuse here, where the counts say why, not at training time.
            self.rows.discard()
            write_rejects(output, self.rejected)
            reasons = ", ".join(f"{k} {v}" for k, v in self.counts.items() if k != "rows" and v)
            raise BuildError(
                f"{corpus}: no row left to train on with policy {policy!r} ({reasons}); "
                "check the policy (rft keeps resolved runs only), --max-length and the rejects"
            )
        try:
            with atomic_folder(output) as folder:
                os.replace(self.rows.path, folder / "data.parquet")
                write_outputs(folder, manifest, stats_doc, self.rejected)
                (folder / "chat_template.jinja").write_text(template, encoding="utf-8")
        finally:
            self.rows.discard()


def write_outputs(
    output: Path,
    manifest: dict[str, Any],
    stats: dict[str, Any],
    rejected: list[dict[str, Any]],
) -> None:
    """Write `hf/`, `build.json`, `stats.json` (and `rejected.jsonl`) beside `data.parquet`."""
    hf = output / "hf"
    if hf.exists():
        shutil.rmtree(hf)
    # A fingerprint from the content, not a random one, keeps `hf/state.json` reproducible.
    fingerprint = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode("utf-8")).hexdigest()[
        :16
    ]
    write_hf_folder(output / "data.parquet", hf, fingerprint)
    dataset_manifest.DATASET_MANIFEST.write(
        output / dataset_manifest.MANIFEST_NAME,
        dataset_manifest.DatasetManifest.model_validate(manifest),
    )
    _write_json(output / "stats.json", stats)
    write_rejects(output, rejected)


def write_rejects(output: Path, rejected: list[dict[str, Any]]) -> None:
    """`rejected.jsonl` with one line per rejected trajectory (removed when there is none)."""
    rejects = output / "rejected.jsonl"
    if rejected:
        output.mkdir(parents=True, exist_ok=True)
        with rejects.open("w", encoding="utf-8", newline="\n") as f:
            for r in rejected:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    elif rejects.exists():
        rejects.unlink()


def load_dataset_folder(path: str | Path) -> Any:
    """The `datasets.Dataset` of a built dataset folder (checks its manifest first)."""
    import datasets

    read_manifest(path)
    return datasets.load_from_disk(str(dataset_manifest.DatasetFolder(path).hf))


def read_manifest(path: str | Path) -> dataset_manifest.DatasetManifest:
    """The `build.json` of a dataset folder; a `BuildError` if it is not an srft dataset."""
    try:
        return dataset_manifest.read_dataset_manifest(path)
    except FileFormatError as e:
        raise BuildError(str(e)) from e


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _tokenizer_identity(name: str | Path, tokenizer: Any) -> dict[str, Any]:
    folder = Path(name)
    file = folder / "tokenizer.json"
    return {
        "name_or_path": str(name),
        "class": type(tokenizer).__name__,
        "tokenizer_json_sha256": _file_hash(file) if file.is_file() else None,
    }


def _srft_version() -> str:
    from srft import __version__

    return __version__
