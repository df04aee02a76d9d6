"""A real HTTP server on loopback that speaks the chat-completions protocol, with faults.

Used by the critic's tests and by `benchmarks/critic_throughput.py`. It answers like a critic
model would: for each step it is asked to judge (read from the answer schema, or from the
prompt's "Judge steps A to B" line when no schema is sent) it says `mistake` when the step's
text shows "command not found" and `good` otherwise.

The server's own settings make it unusable as a whole: `api_key` (any other Authorization header
gets 401), `models` (another model gets 404 "model ... does not exist", as vLLM answers). Any
path but `/v1/chat/completions` is 404. The critic's preflight requests (one per run) are
counted in `preflights`, not logged in `requests`.

Faults are chosen by the trajectory itself: a task containing `FAULT:<name>` makes the server
misbehave on that trajectory's requests (see `FAULTS`), so many trajectories with different
faults can run concurrently and deterministically. `TRAJ:<id>` in the task names the trajectory
in the request log.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
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
    "401": ("401", 0),
    "slow": ("hang", 0),
    "dropbody": ("dropbody", 2),
    # Answers shaped differently from the step-number mapping (all of them, every time):
    "shape_list": ("shape_list", 0),
    "shape_wrapper": ("shape_wrapper", 0),
    "shape_verdicts": ("shape_verdicts", 0),
    "shape_prose": ("shape_prose", 0),
    "shape_fenced": ("shape_fenced", 0),
    "shape_stepkeys": ("shape_stepkeys", 0),
    "shape_bare": ("shape_bare", 0),
    # The first answer leaves out the last step; the re-ask must ask for that step only.
    "partial": ("partial", 1),
}

_STEP = re.compile(r"^## Step (\d+)\n(.*?)(?=^## Step |^# |\Z)", re.S | re.M)
_JUDGE = re.compile(r"Judge steps (\d+) to (\d+)")
_REASKED = re.compile(r"Answer again for those steps only.*?keys are exactly (\[[^\]]*\])", re.S)


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
        api_key: str | None = None,
        models: tuple[str, ...] | None = None,
        noise: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.latency = latency
        self.api_key = api_key
        self.models = models
        # With noise > 0 each label is replaced, with that probability, by a random other
        # label (seeded by the request and the sample): a sampled critic with known errors.
        self.noise = noise
        self.seed = seed
        self.preflights = 0
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
                    if self.path != "/v1/chat/completions":
                        self._send(404, {"detail": "Not Found"})
                    elif server.api_key and (
                        self.headers.get("Authorization") != f"Bearer {server.api_key}"
                    ):
                        self._send(401, {"error": {"message": "Incorrect API key provided"}})
                    elif server.models is not None and body.get("model") not in server.models:
                        self._send(
                            404,
                            {
                                "error": {
                                    "message": f"The model `{body.get('model')}` does not exist.",
                                    "type": "NotFoundError",
                                }
                            },
                        )
                    elif "srft preflight" in body["messages"][-1]["content"]:
                        with server.lock:
                            server.preflights += 1
                        self._send(200, server._completion(body, "OK"))
                    else:
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
        last = body["messages"][-1]["content"]
        fmt = body.get("response_format") or {}
        kind = fmt.get("type", "plain")
        traj = (re.search(r"TRAJ:(\S+)", user) or [None, None])[1]
        fault_name = (re.search(r"FAULT:(\w+)", user) or [None, None])[1]
        keys = self._keys(fmt, user if len(body["messages"]) <= 2 else last)
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
        if behaviour == "401":
            handler._send(401, {"error": {"message": "key revoked"}})
            return
        if behaviour == "hang":
            time.sleep(self.hang_seconds)
        if behaviour == "dropbody":
            # Headers promise a body that never fully arrives: the connection drops mid-body.
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", "1000")
            handler.end_headers()
            handler.wfile.write(b'{"id": "chatcmpl-fake", "choices": [')
            handler.wfile.flush()
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if behaviour == "drop":
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if behaviour == "badbody":
            handler._send(200, None, raw=b"<html>502 Bad Gateway</html>")
            return
        labels = self._labels(user)
        if self.noise:
            labels = self._noisy(labels, keys, body)
        answer = {
            k: {"reason": f"fake judgement of step {k}", "label": labels.get(k, "good")}
            for k in keys
        }
        content = json.dumps(answer)
        listed = [{"step": int(k), **v} for k, v in answer.items()]
        shapes = {
            "shape_list": lambda: json.dumps(listed),
            "shape_wrapper": lambda: json.dumps({"analysis": "all read", "steps": listed}),
            "shape_verdicts": lambda: json.dumps(
                {"verdicts": [{"index": int(k), **v} for k, v in answer.items()]}
            ),
            "shape_prose": lambda: f"Here is my judgement:\n{content}\nHope this helps!",
            "shape_fenced": lambda: f"Sure.\n```json\n{content}\n```\nDone.",
            "shape_stepkeys": lambda: json.dumps({f"Step {k}": v for k, v in answer.items()}),
            "shape_bare": lambda: json.dumps({k: v["label"].upper() for k, v in answer.items()}),
        }
        if behaviour in shapes:
            content = shapes[behaviour]()
        elif behaviour == "partial" and len(answer) > 1:
            content = json.dumps(dict(list(answer.items())[:-1]))
        if behaviour == "badjson":
            content = "Sure! Here are the labels: {" + content[1:-5]
        elif behaviour == "wrongcount" and answer:
            content = json.dumps(dict(list(answer.items())[:-1]))
        elif behaviour == "badlabel" and answer:
            first = next(iter(answer))
            answer[first]["label"] = "fine"
            content = json.dumps(answer)
        handler._send(200, self._completion(body, content))

    @staticmethod
    def _completion(body: dict[str, Any], content: str) -> dict[str, Any]:
        prompt_chars = sum(len(m["content"]) for m in body["messages"])
        return {
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
        }

    def _noisy(
        self, labels: dict[str, str], keys: list[str], body: dict[str, Any]
    ) -> dict[str, str]:
        # The same request asked again is another sample: seeded by the body and its repeat.
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        with self.lock:
            repeat = self.seen[digest]
            self.seen[digest] += 1
        rng = random.Random(f"{self.seed}-{digest}-{repeat}")
        out = {}
        for k in keys:
            label = labels.get(k, "good")
            if rng.random() < self.noise:
                label = rng.choice(
                    [x for x in ("good", "unnecessary", "mistake", "recover") if x != label]
                )
            out[k] = label
        return out

    @staticmethod
    def _keys(fmt: dict[str, Any], user: str) -> list[str]:
        schema = fmt.get("schema") or (fmt.get("json_schema") or {}).get("schema")
        if schema:
            return list(schema["required"])
        asked = _REASKED.search(user)
        if asked:
            return json.loads(asked[1])
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
