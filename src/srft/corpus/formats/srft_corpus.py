"""srft's own corpus (`format: srft.corpus`): ingesting a corpus again keeps each trajectory.

Lets corpora be merged, relabelled (`--labels`) or checked with `srft ingest`. Without this
reader a corpus record would look like an OpenAI chat row (it has `messages`) and lose its
steps, source and metadata.
"""

from __future__ import annotations

from typing import Any

from srft.corpus.formats import Origin
from srft.corpus.formats._chat import expect_dict, fail
from srft.corpus.model import CORPUS_FORMAT, CORPUS_VERSION, Trajectory


class SrftCorpus:
    name = "srft-corpus"
    description = "srft's canonical corpus JSONL (merge, relabel or check a corpus)"
    priority = 200

    def matches(self, record: Any) -> bool:
        return isinstance(record, dict) and record.get("format") == CORPUS_FORMAT

    def has_run_id(self, record: Any) -> bool:
        """A corpus read again keeps its ids (they already name runs)."""
        return True

    def convert(self, record: Any, origin: Origin) -> Trajectory:
        record = expect_dict(record, "trajectory")
        if record.get("version") != CORPUS_VERSION:
            raise fail(
                f"corpus version {record.get('version')!r} is not supported "
                f"(this srft reads version {CORPUS_VERSION})"
            )
        trajectory = Trajectory.model_validate(record)
        trajectory.validate_structure()
        return trajectory


FORMAT = SrftCorpus()
