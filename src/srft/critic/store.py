"""The SQLite store that makes critic runs resumable and never loses a paid-for answer.

Two things are kept, each committed the moment it arrives:

- `answers`: the server's answer to every request, keyed by a hash of the fully rendered
  request (model, messages, answer schema, sampling settings). The wire-level choice of
  structured-output format and the server URL are *not* part of the key: the same question asked
  of another replica, or with a different `response_format` spelling, is the same question.
  Invalid answers are kept too, so a rerun replays the same re-asks without paying for them.
- `verdicts`: the finished verdict of each trajectory for a job (a hash of the critic's
  settings) and the trajectory's content hash, so a rerun of a finished job renders and sends
  nothing, and a trajectory edited since is judged again.

The endpoints table remembers which structured-output format each server accepted. No request
header is ever stored, so the API key cannot end up here.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
  key TEXT PRIMARY KEY, model TEXT, content TEXT NOT NULL, usage TEXT NOT NULL, created REAL
);
CREATE TABLE IF NOT EXISTS verdicts (
  job TEXT NOT NULL, trajectory_id TEXT NOT NULL, trajectory_hash TEXT NOT NULL,
  verdict TEXT NOT NULL, created REAL, PRIMARY KEY (job, trajectory_id, trajectory_hash)
);
CREATE TABLE IF NOT EXISTS endpoints (
  base_url TEXT NOT NULL, model TEXT NOT NULL, response_format TEXT NOT NULL,
  PRIMARY KEY (base_url, model)
);
"""


class StoreError(ValueError):
    """A cache file that cannot be used as the store; the message names it and the reason."""


def stable_hash(obj: Any) -> str:
    """SHA-256 of the canonical JSON of `obj` (sorted keys, no whitespace)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class CriticStore:
    """A small SQLite file of answers, verdicts and negotiated formats (see module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise StoreError(f"{self.path}: is a folder; --cache names the SQLite file to use")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # One connection used from the event loop's thread only; WAL keeps readers (a
            # second process inspecting progress) from blocking the writer.
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA busy_timeout=10000")
            self.db.executescript(SCHEMA)
        except sqlite3.Error as e:  # a corrupt file, another program's file, no permission
            raise StoreError(f"{self.path}: not a usable critic cache (SQLite): {e}") from e

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    # -- answers ----------------------------------------------------------------------------

    def get_answer(self, key: str) -> tuple[str, dict[str, Any]] | None:
        """The stored answer (content, usage) for a request key, if any."""
        row = self.db.execute("SELECT content, usage FROM answers WHERE key=?", (key,)).fetchone()
        return (row[0], json.loads(row[1])) if row else None

    def put_answer(
        self, key: str, model: str, content: str, usage: dict[str, Any], *, replace: bool = False
    ) -> None:
        """Commit an answer. The first one wins (the same request always has the same answer),
        unless `replace`: a request asked again because its stored answer was unusable."""
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        self.db.execute(
            f"{verb} INTO answers VALUES (?, ?, ?, ?, ?)",
            (key, model, content, json.dumps(usage, sort_keys=True), time.time()),
        )

    def count_answers(self) -> int:
        """How many answers are stored."""
        return self.db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]

    # -- verdicts ---------------------------------------------------------------------------

    def get_verdict(self, job: str, trajectory_id: str, trajectory_hash: str) -> str | None:
        """The stored verdict line of a trajectory for a job, if it was finished."""
        row = self.db.execute(
            "SELECT verdict FROM verdicts WHERE job=? AND trajectory_id=? AND trajectory_hash=?",
            (job, trajectory_id, trajectory_hash),
        ).fetchone()
        return row[0] if row else None

    def put_verdict(self, job: str, trajectory_id: str, trajectory_hash: str, line: str) -> None:
        """Commit a finished verdict."""
        self.db.execute(
            "INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?)",
            (job, trajectory_id, trajectory_hash, line, time.time()),
        )

    def finished_ids(self, job: str) -> set[str]:
        """Trajectory ids judged (`ok`) for `job`; failed ones are not final."""
        rows = self.db.execute(
            "SELECT trajectory_id FROM verdicts WHERE job=? AND "
            "json_extract(verdict, '$.status') = 'ok'",
            (job,),
        )
        return {r[0] for r in rows}

    def jobs(self) -> list[dict[str, Any]]:
        """Every job in the store with its verdicts counted: `judged`, `failed` per failure
        kind with the first example (by time), and when it was last written."""
        rows = self.db.execute(
            "SELECT job, json_extract(verdict, '$.status'), "
            "coalesce(json_extract(verdict, '$.failure'), 'failed'), trajectory_id, "
            "json_extract(verdict, '$.error'), created FROM verdicts ORDER BY created"
        )
        out: dict[str, dict[str, Any]] = {}
        for job, status, kind, tid, error, created in rows:
            entry = out.setdefault(
                job, {"job": job, "judged": 0, "failed": 0, "reasons": {}, "last": created}
            )
            entry["last"] = max(entry["last"], created)
            if status == "ok":
                entry["judged"] += 1
                continue
            entry["failed"] += 1
            reason = entry["reasons"].setdefault(
                kind, {"count": 0, "first": {"trajectory_id": tid, "error": error}}
            )
            reason["count"] += 1
        return sorted(out.values(), key=lambda e: e["last"])

    def stored_pairs(self, job: str) -> set[tuple[str, str]]:
        """(trajectory id, content hash) of every verdict stored for `job`."""
        rows = self.db.execute(
            "SELECT trajectory_id, trajectory_hash FROM verdicts WHERE job=?", (job,)
        )
        return {(tid, digest) for tid, digest in rows}

    # -- endpoints --------------------------------------------------------------------------

    def get_format(self, base_url: str, model: str) -> str | None:
        """The structured-output format this endpoint accepted before, if known."""
        row = self.db.execute(
            "SELECT response_format FROM endpoints WHERE base_url=? AND model=?", (base_url, model)
        ).fetchone()
        return row[0] if row else None

    def put_format(self, base_url: str, model: str, response_format: str) -> None:
        """Remember the structured-output format this endpoint accepts."""
        self.db.execute(
            "INSERT OR REPLACE INTO endpoints VALUES (?, ?, ?)", (base_url, model, response_format)
        )
