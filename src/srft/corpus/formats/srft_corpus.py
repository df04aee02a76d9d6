"""srft's own corpus (`format: srft.corpus`): ingesting a corpus again keeps each trajectory.

Lets corpora be merged, relabelled (`--labels`) or checked with `srft ingest`. Without this
reader a corpus record would look like an OpenAI chat row (it has `messages`) and lose its
steps, source and metadata.
"""

from __future__ import annotations

from typing import Any

from srft.corpus.formats import Origin
from srft.corpus.formats._chat import fail
from srft.files.corpus import CORPUS, CORPUS_FORMAT, Trajectory


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
        """The record as it was written, checked as every corpus reader checks it (`CORPUS`)."""
        try:
            return CORPUS.record(record)
        except ValueError as e:
            raise fail(str(e)) from e


FORMAT = SrftCorpus()
