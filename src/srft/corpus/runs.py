"""Runs, not instances: the id of one agent run, and what makes two runs the same run.

RFT and SRFT data is sampled: an agent is run k times on each task instance, so a corpus holds
several runs per instance and a trajectory id must name a *run*. The id is
`<instance>@<digest>`, the digest taken from where the run was read: its file's run key
(relative to the folder named on the command line, see `containers.run_key`) and its record
locator. So ingesting the same inputs again gives the same ids, wherever the command runs and
whatever other files are read with them, and the instance stays visible in the id.

Two records with the same content (messages, tools, steps, metadata, for the same instance)
are one run read twice (a file copied into two run folders, a dataset row repeated): the second
is dropped and counted, never trained twice.
"""

from __future__ import annotations

import hashlib

_DIGEST_CHARS = 10  # 40 bits: collisions need ~1M runs of ONE instance, and are caught anyway


def run_id(name: str, run_key: str, record: str) -> str:
    """The id of the run read from `record` of the file with `run_key`, for instance `name`."""
    digest = hashlib.sha256(f"{run_key}\n{record}".encode()).hexdigest()
    return f"{name}@{digest[:_DIGEST_CHARS]}"


def content_digest(instance_id: str | None, line: bytes) -> bytes:
    """A digest of what a run *is*, from its canonical corpus line (UTF-8), ignoring where it
    was read.

    The canonical line starts with format, version, id, instance_id, source and outcome, then
    `"messages":`; everything from there on is the run's content. A JSON string cannot hold an
    unescaped `"`, so the first `,"messages":` is the field (or, at worst, a key inside
    `outcome.details`, which only makes the digest cover a little more).
    """
    start = line.find(b',"messages":')
    digest = hashlib.blake2b(f"{instance_id}\n".encode(), digest_size=16)
    digest.update(memoryview(line)[max(start, 0) :])
    return digest.digest()
