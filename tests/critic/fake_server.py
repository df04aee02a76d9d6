"""A real HTTP server on loopback that speaks the chat-completions protocol, with faults.

Used by the critic's tests and by `benchmarks/critic_throughput.py`. It answers like a critic
model would: for each step it is asked to judge (read from the answer schema, or from the
prompt's "Judge steps A to B" line when no schema is sent) it says `mistake` when the step's
text shows "command not found" and `good` otherwise.

Faults are chosen by the trajectory itself: a task containing `FAULT:<name>` makes the server
misbehave on that trajectory's requests (see `FAULTS`), so many trajectories with different
faults can run concurrently and deterministically. `TRAJ:<id>` in the task names the trajectory
in the request log.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# name -> (behaviour, how many of the trajectory's first requests get it; 0 = all of them)
FAULTS: dict[str, tuple[str, int]] = {
    "429": ("429", 2),
    "500": ("500", 2),
    "500always": ("500", 0),
    "hang": ("hang", 1),
    "drop": ("drop", 2),
    "badbody": ("badbody", 1),
    "badjson": ("badjson", 1),
    "badjsonalways": ("badjson", 0),
    "wrongcount": ("wrongcount", 1),
    "wrongcountalways": ("wrongcount", 0),
    "badlabel": ("badlabel", 1),
    "badlabelalways": ("badlabel", 0),
    "echokey": ("echokey", 0),
    "400": ("400", 0),
}

_STEP = re.compile(r"^## Step (\d+)\n(.*?)(?=^## Step |^# |\Z)", re.S | re.M)
_JUDGE = re.compile(r"Judge steps (\d+) to (\d+)")


class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog of 5 drops connections when 32 clients connect at
    # once, which shows up as 1 s SYN retransmits and resets, not as server latency.
    request_queue_size = 512
    daemon_threads = True


class FakeChatServer:
    """Start with `start()`; `base_url` ends in /v1; `requests` logs what was asked."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        accepts: tuple[str, ...] = ("json_schema", "json_object", "plain"),
        retry_after: str = "1",
        hang_seconds: float = 3.0,
    ) -> None:
        self.latency = latency
        self.accepts = accepts
        self.retry_after = retry_after
        self.hang_seconds = hang_seconds
        self.requests: list[dict[str, Any]] = []
        self.seen: Counter[str] = Counter()
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # As real servers (uvicorn, vLLM) do: without TCP_NODELAY the separate header and
            # body writes of keep-alive responses meet delayed ACKs and add ~40 ms a request.
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._send(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length))
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    server._answer(self, body)

            def _send(
                self,
                status: int,
                payload: Any,
                headers: dict[str, str] | None = None,
                raw: bytes | None = None,
            ) -> None:
                data = raw if raw is not None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def start(self) -> FakeChatServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FakeChatServer:
        return self.start()

    def __exit__(self, *_: Any) -> None:
        self.stop()

    # -- answering --------------------------------------------------------------------------

    def _answer(self, handler: Any, body: dict[str, Any]) -> None:
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        fmt = body.get("response_format") or {}
        kind = fmt.get("type", "plain")
        traj = (re.search(r"TRAJ:(\S+)", user) or [None, None])[1]
        fault_name = (re.search(r"FAULT:(\w+)", user) or [None, None])[1]
        keys = self._keys(fmt, user)
        with self.lock:
            n = self.seen[f"{traj}"]
            self.seen[f"{traj}"] += 1
            self.requests.append(
                {
                    "traj": traj,
                    "keys": keys,
                    "format": kind,
                    "reask": len(body["messages"]) > 2,
                    "authorization": handler.headers.get("Authorization"),
                    "user": user,
                }
            )
        if self.latency:
            time.sleep(self.latency)
        if kind != "plain" and kind not in self.accepts:
            handler._send(
                500,
                {
                    "error": {
                        "message": f"1 validation error for response_format: "
                        f"type {kind!r} is not supported"
                    }
                },
            )
            return
        behaviour = None
        if fault_name in FAULTS:
            what, times = FAULTS[fault_name]
            if times == 0 or n < times:
                behaviour = what
        if behaviour == "429":
            handler._send(
                429, {"error": {"message": "slow down"}}, headers={"Retry-After": self.retry_after}
            )
            return
        if behaviour == "500":
            handler._send(500, {"error": {"message": "internal error"}})
            return
        if behaviour == "400":
            handler._send(400, {"error": {"message": "context length exceeded"}})
            return
        if behaviour == "echokey":
            handler._send(
                503,
                {
                    "error": {
                        "message": f"bad gateway, you sent {handler.headers.get('Authorization')}"
                    }
                },
            )
            return
        if behaviour == "hang":
            time.sleep(self.hang_seconds)
        if behaviour == "drop":
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if behaviour == "badbody":
            handler._send(200, None, raw=b"<html>502 Bad Gateway</html>")
            return
        labels = self._labels(user)
        answer = {
            k: {"label": labels.get(k, "good"), "reason": f"fake judgement of step {k}"}
            for k in keys
        }
        content = json.dumps(answer)
        if behaviour == "badjson":
            content = "Sure! Here are the labels: {" + content[1:-5]
        elif behaviour == "wrongcount" and answer:
            content = json.dumps(dict(list(answer.items())[:-1]))
        elif behaviour == "badlabel" and answer:
            first = next(iter(answer))
            answer[first]["label"] = "fine"
            content = json.dumps(answer)
        prompt_chars = sum(len(m["content"]) for m in body["messages"])
        handler._send(
            200,
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": content},
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_chars // 4,
                    "completion_tokens": len(content) // 4,
                    "total_tokens": prompt_chars // 4 + len(content) // 4,
                },
            },
        )

    @staticmethod
    def _keys(fmt: dict[str, Any], user: str) -> list[str]:
        schema = fmt.get("schema") or (fmt.get("json_schema") or {}).get("schema")
        if schema:
            return list(schema["required"])
        match = _JUDGE.search(user)
        return [str(i) for i in range(int(match[1]), int(match[2]) + 1)] if match else []

    @staticmethod
    def _labels(user: str) -> dict[str, str]:
        return {
            m[1]: ("mistake" if "command not found" in m[2] else "good")
            for m in _STEP.finditer(user)
        }

    def requests_for(self, traj: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r["traj"] == traj]


def main() -> None:
    """Run the server in the foreground (for trying `srft critic` by hand)."""
    import argparse

    p = argparse.ArgumentParser()
    p.add_argument("--latency", type=float, default=0.0)
    args = p.parse_args()
    with FakeChatServer(latency=args.latency) as s:
        print(s.base_url, flush=True)
        s.thread.join()


if __name__ == "__main__":
    main()
