"""`build.json`: the manifest of a dataset folder, and where a dataset folder keeps its parts.

`srft build` writes a dataset folder: the rows twice (`hf/`, a `datasets.Dataset.save_to_disk`
folder, and `data.parquet`), `build.json` (this module's file: what was built from what, with
which tokenizer, template and policy, and the counts), `stats.json`, the chat template and the
rejects. Train, evaluate, report, export and the pipeline's comparison all open dataset folders;
they find the parts through `DatasetFolder` and read the manifest through `DATASET_MANIFEST`, so
the folder's layout and the manifest's format are decided here once. The rows themselves are
read with `datasets` or pyarrow by the stage that needs them (each wants other columns); their
contract is the row table of `docs/pipeline-files.md`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from srft.files.base import JsonDocument

FORMAT = "srft.dataset"
VERSION = 1
MANIFEST_NAME = "build.json"


class InputFile(BaseModel):
    """A file the dataset was built from, identified by its content."""

    path: str = Field(description="The path as given to `srft build`.")
    sha256: str = Field(description="sha256 of the file's bytes.")


class BuildInputs(BaseModel):
    """The corpus and the critic's verdicts the rows were built from."""

    corpus: InputFile = Field(description="The corpus JSONL (`srft.corpus`).")
    verdicts: InputFile | None = Field(
        description="The verdicts JSONL (`srft.verdicts`); null for a policy that needs none."
    )


class DatasetManifest(BaseModel):
    """`build.json`: what a dataset folder was built from and how; the same inputs give the same
    bytes (no timestamps)."""

    model_config = ConfigDict(extra="allow")

    format: Literal["srft.dataset"] = FORMAT
    version: Literal[1] = VERSION
    srft_version: str = Field(description="The srft version that built the dataset.")
    inputs: BuildInputs
    tokenizer: dict[str, Any] = Field(
        description="`name_or_path`, `class` and `tokenizer_json_sha256` of the tokenizer."
    )
    chat_template: dict[str, Any] = Field(
        description="`source` (a file or `tokenizer`), `sha256` and the probed `features`."
    )
    policy: dict[str, Any] = Field(
        description="The masking policy: `name` and every option, defaults included."
    )
    max_length: int = Field(description="The longest row in tokens (`--max-length`).")
    overlong: str = Field(description="What happened to longer trajectories (`--overlong`).")
    skip_invalid: bool = Field(description="Whether invalid trajectories became rejects.")
    shard: str = Field(description='`"K/N"` of a sharded build, `"0/1"` unsharded.')
    reasoning_mode: str = Field(description="`--reasoning`: `template` or `every-turn`.")
    counts: dict[str, int] = Field(
        description="`read`, `rows`, `dropped`, `rejected`, `skipped_overlong`, `truncated`, "
        "`truncated_steps` (+ `turn_rows`, `unknown_verdicts` when they occur); "
        "read = rows + dropped + rejected + skipped_overlong."
    )
    reasoning: dict[str, Any] = Field(
        description="Turns with reasoning and what the template dropped, as in `stats.json`."
    )


DATASET_MANIFEST: JsonDocument[DatasetManifest] = JsonDocument(
    name=f"<dataset>/{MANIFEST_NAME}", model=DatasetManifest, what="an srft dataset", written_by="srft build",
    format=FORMAT, version=VERSION, doc="docs/dataset.md",
)  # fmt: skip

FILES = (DATASET_MANIFEST,)


class DatasetFolder:
    """The parts of a dataset folder written by `srft build` (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def hf(self) -> Path:
        """The rows as a `datasets.Dataset.save_to_disk` folder."""
        return self.path / "hf"

    @property
    def parquet(self) -> Path:
        """The same rows as one Parquet file."""
        return self.path / "data.parquet"

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST_NAME

    def rows_missing(self) -> str | None:
        """Why the folder holds no rows (neither `hf/` nor `data.parquet`), or None."""
        if self.hf.is_dir() or self.parquet.is_file():
            return None
        return "not a dataset folder (no hf/ and no data.parquet)"

    def manifest(self) -> DatasetManifest:
        """The validated `build.json`; `FileFormatError` when absent or malformed."""
        return DATASET_MANIFEST.read(self.manifest_path)

    def manifest_fields(self) -> dict[str, Any]:
        """The raw `build.json` with its header checked, `{}` when the folder has none.

        For readers that copy parts of it as they are (the evaluation records the policy and
        tokenizer) and accept rows built by other tools, which write no manifest.
        """
        if not self.manifest_path.exists():
            return {}
        return DATASET_MANIFEST.load(self.manifest_path)


def read_dataset_manifest(folder: str | Path) -> DatasetManifest:
    """The validated `build.json` of the dataset folder `folder`."""
    return DatasetFolder(folder).manifest()
