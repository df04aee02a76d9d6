"""Where a build's rows go: the Arrow schema, Parquet written in batches, the `hf/` folder.

Rows leave the builder as dicts of numpy arrays and plain values; they are written to one
Parquet file a batch at a time (`RowSink`), so a build's memory does not grow with the corpus,
and the `datasets` folder is streamed from that file (`write_hf_folder`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from srft.dataset.encoder import BuildError


def arrow_schema() -> Any:
    """The Arrow schema of a dataset row (the contract in `docs/pipeline-files.md`)."""
    import pyarrow as pa

    step = pa.struct(
        [
            ("index", pa.int32()),
            ("message", pa.int32()),
            ("start", pa.int32()),
            ("end", pa.int32()),
            ("trained", pa.bool_()),
            ("label", pa.string()),
        ]
    )
    return pa.schema(
        [
            ("trajectory_id", pa.string()),
            ("instance_id", pa.string()),
            ("outcome", pa.string()),
            ("policy", pa.string()),
            ("input_ids", pa.list_(pa.int32())),
            ("labels", pa.list_(pa.int32())),
            ("steps", pa.list_(step)),
            ("num_tokens", pa.int32()),
            ("num_trained", pa.int32()),
            ("messages", pa.string()),
            ("tools", pa.string()),
        ]
    )


def rows_to_table(rows: list[dict[str, Any]]) -> Any:
    """An Arrow table of built rows; the token columns are assembled from numpy without
    going through Python lists (a corpus can hold tens of millions of tokens)."""
    import pyarrow as pa

    schema = arrow_schema()

    def token_column(name: str) -> Any:
        lengths = np.array([len(r[name]) for r in rows], dtype=np.int64)
        offsets = np.zeros(len(rows) + 1, dtype=np.int32)
        np.cumsum(lengths, out=offsets[1:])
        flat = (np.concatenate([r[name] for r in rows]) if rows else np.zeros(0)).astype(np.int32)
        return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, type=pa.int32()))

    columns = []
    for f in schema:
        if f.name in ("input_ids", "labels"):
            columns.append(token_column(f.name))
        else:
            columns.append(pa.array([r[f.name] for r in rows], type=f.type))
    return pa.Table.from_arrays(columns, schema=schema)


class RowSink:
    """Built rows, written to a Parquet file beside the output in batches of `BATCH_ROWS`.

    Holding every row until the end made a build's memory grow with the corpus (tokens are
    4 bytes each, twice: ids and labels); a batch at a time keeps it flat. The file is moved
    into the output folder when the build succeeds, and removed otherwise (`discard`).
    """

    BATCH_ROWS = 512
    BATCH_TOKENS = 1_000_000  # about 8 MB of ids and labels: long runs make smaller batches

    def __init__(self, output: Path) -> None:
        output.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(
            prefix=f".{output.name}.rows-", suffix=".parquet", dir=output.parent
        )
        os.close(fd)
        self.path = Path(name)
        self.count = 0
        self._batch: list[dict[str, Any]] = []
        self._tokens = 0
        self._writer: Any = None

    def add(self, row: dict[str, Any]) -> None:
        """Append one row (written once a batch is full)."""
        self._batch.append(row)
        self.count += 1
        self._tokens += len(row["input_ids"])
        if len(self._batch) >= self.BATCH_ROWS or self._tokens >= self.BATCH_TOKENS:
            self._flush()

    def _flush(self) -> None:
        import pyarrow.parquet as pq

        if not self._batch:
            return
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, arrow_schema())
        self._writer.write_table(rows_to_table(self._batch))
        self._batch = []
        self._tokens = 0

    def close(self) -> None:
        """Write the last batch and close the file."""
        self._flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def discard(self) -> None:
        """Remove the file (a failed build, or after it was moved into the output)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self.path.unlink(missing_ok=True)


def write_hf_folder(parquet: Path, hf: Path, fingerprint: str) -> None:
    """The `save_to_disk` folder of the rows in `parquet`, written one row group at a time.

    `Dataset.save_to_disk` reads a table it holds or memory-maps, so its resident memory grows
    with the dataset; here the one data file is streamed through `datasets`' own `ArrowWriter`,
    and `state.json` and `dataset_info.json` come from `save_to_disk` itself, run on the first
    row (they describe the schema, the fingerprint and the file name, not the row count).
    """
    import datasets
    import pyarrow.parquet as pq
    from datasets.arrow_writer import ArrowWriter
    from datasets.table import InMemoryTable

    rows = pq.ParquetFile(parquet)
    features = datasets.Features.from_arrow_schema(arrow_schema())
    probe = hf.with_name(hf.name + ".probe")
    first = rows.read_row_group(0).slice(0, 1)
    datasets.Dataset(InMemoryTable(first), fingerprint=fingerprint).save_to_disk(str(probe))
    data_files = json.loads((probe / "state.json").read_text())["_data_files"]
    if [f["filename"] for f in data_files] != ["data-00000-of-00001.arrow"]:
        raise BuildError(f"unexpected save_to_disk layout from datasets: {data_files}")
    hf.mkdir(parents=True)
    for name in ("state.json", "dataset_info.json"):
        os.replace(probe / name, hf / name)
    shutil.rmtree(probe)
    writer = ArrowWriter(path=str(hf / "data-00000-of-00001.arrow"), features=features)
    try:
        for group in range(rows.num_row_groups):
            writer.write_table(rows.read_row_group(group, use_threads=False))
        writer.finalize()
    finally:
        writer.close()
