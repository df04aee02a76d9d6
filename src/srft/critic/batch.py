"""OpenAI Batch JSONL: write the critic's requests, read the answers back into the store.

`srft critic ... --emit-batch requests.jsonl` renders every request not yet answered and
writes it as one Batch line (`custom_id` is the request's store key). Run the file through the
OpenAI Batch API or `vllm run-batch`, then `srft critic ... --batch-output results.jsonl`
imports the answers into the store and judges from them; invalid answers lead to re-ask
requests, which a second `--emit-batch` round writes out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from srft.critic.client import response_format_body
from srft.critic.store import CriticStore
from srft.files.base import JsonLines


class DeferredToBatch(Exception):
    """A request was written to the batch file instead of being sent."""


class BatchWriter:
    """Appends chat-completions requests to an OpenAI Batch input file, each key once."""

    def __init__(self, path: str | Path, response_format: str = "auto") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.kind = "json_schema" if response_format == "auto" else response_format
        self.file = self.path.open("w", encoding="utf-8", newline="\n")
        self.keys: set[str] = set()

    @property
    def count(self) -> int:
        """Requests written."""
        return len(self.keys)

    def add(self, key: str, request: dict[str, Any]) -> None:
        """Write one request (`request` holds model, messages, schema, max_tokens, temperature)."""
        if key in self.keys:
            return
        self.keys.add(key)
        body = {k: request[k] for k in ("model", "messages", "max_tokens", "temperature")}
        fmt = response_format_body(self.kind, request["schema"])
        if fmt is not None:
            body["response_format"] = fmt
        line = {"custom_id": key, "method": "POST", "url": "/v1/chat/completions", "body": body}
        self.file.write(json.dumps(line, ensure_ascii=False) + "\n")
        self.file.flush()

    def close(self) -> None:
        """Close the file."""
        self.file.close()


class BatchOutputLine(BaseModel):
    """One line of an OpenAI Batch output file: the request's key and the server's answer."""

    model_config = ConfigDict(extra="allow")

    custom_id: str
    response: dict[str, Any] | None = None
    error: Any = None


BATCH_OUTPUT: JsonLines[BatchOutputLine] = JsonLines(
    name="batch output JSONL", model=BatchOutputLine, what="an OpenAI Batch output line", written_by="the OpenAI Batch API, or vllm run-batch",
)  # fmt: skip


def import_batch_output(path: str | Path, store: CriticStore) -> dict[str, int]:
    """Store every successful answer of a Batch output file; returns counts (imported, errors).

    A line that is not a Batch output record is an error naming file and line; an errored
    request is counted, not stored, so the next run asks again.
    """
    counts = {"imported": 0, "errors": 0}
    for row in BATCH_OUTPUT.read(path):
        response = row.response or {}
        body = response.get("body") or {}
        if row.error or response.get("status_code") != 200 or "choices" not in body:
            counts["errors"] += 1
            continue
        content = body["choices"][0]["message"].get("content") or ""
        usage = body.get("usage") or {}
        store.put_answer(
            row.custom_id,
            str(body.get("model") or ""),
            content,
            {
                "prompt_tokens": int(usage.get("prompt_tokens") or 0),
                "completion_tokens": int(usage.get("completion_tokens") or 0),
            },
        )
        counts["imported"] += 1
    return counts
