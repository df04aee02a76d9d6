"""docs/pipeline-files.md is generated from the file models of srft.files and must be current."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import srft.files
from srft.files.reference import render_pipeline_files

DOC = Path(__file__).resolve().parents[2] / "docs" / "pipeline-files.md"


def test_the_committed_pipeline_files_doc_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == render_pipeline_files(), (
        "docs/pipeline-files.md is stale: run python scripts/gen_docs.py"
    )


def test_every_file_spec_of_every_module_has_a_section_with_every_field() -> None:
    text = render_pipeline_files()
    for info in pkgutil.iter_modules(srft.files.__path__):
        module = importlib.import_module(f"srft.files.{info.name}")
        for spec in getattr(module, "FILES", ()):
            assert f"## `{spec.name}`" in text, spec.name
            for field in spec.model.model_fields:
                assert f"| `{field}` |" in text, f"{spec.name}: {field}"


def test_the_hand_written_dataset_row_contract_is_kept() -> None:
    text = render_pipeline_files()
    assert "## The dataset row" in text and "| `labels` | list of int32 |" in text
