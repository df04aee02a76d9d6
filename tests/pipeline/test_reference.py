"""docs/config-reference.md is generated from the config schema and must be current."""

from __future__ import annotations

from pathlib import Path

from srft.pipeline.config import RunConfig
from srft.pipeline.reference import render_reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "config-reference.md"


def test_the_committed_config_reference_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == render_reference(), (
        "docs/config-reference.md is stale: run python scripts/gen_docs.py"
    )


def test_the_reference_documents_every_top_level_key() -> None:
    text = render_reference()
    for name in RunConfig.model_fields:
        assert f"| `{name}` |" in text
