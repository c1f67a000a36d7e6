#!/usr/bin/env python3
"""A tiny OpenAI-compatible server on 127.0.0.1 for the release test (standard library only).

POST /v1/chat/completions streams a fixed answer as Server-Sent Events (chunked transfer
encoding, as real servers send it) when the body says "stream": true, else answers JSON.
GET /v1/models lists one model. It prints its port on the first line of stdout, then serves
until killed (the test kills it; it also stops by itself after --lifetime seconds).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL = "stub-model"
PIECES = ["Hello", " from", " the", " release", " stub", "."]
ANSWER = "".join(PIECES)


def chunk(delta: dict, finish: str | None = None) -> dict:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._json(200, {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "stub"}]})
        else:
            self._json(404, {"error": {"message": "not found", "type": "not_found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self._json(400, {"error": {"message": "invalid JSON", "type": "invalid_request_error"}})
        if not self.path.rstrip("/").endswith("/chat/completions"):
            return self._json(404, {"error": {"message": "not found", "type": "not_found"}})
        usage = {"prompt_tokens": 3, "completion_tokens": len(PIECES), "total_tokens": 3 + len(PIECES)}
        if not body.get("stream"):
            return self._json(200, {
                "id": "chatcmpl-stub", "object": "chat.completion", "created": 0, "model": MODEL,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER},
                             "finish_reason": "stop"}],
                "usage": usage,
            })
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        events = [chunk({"role": "assistant", "content": ""})]
        events += [chunk({"content": piece}) for piece in PIECES]
        events.append(chunk({}, finish="stop"))
        final = chunk({})
        final["choices"] = []
        final["usage"] = usage
        events.append(final)
        for event in events:
            self._send_chunk(f"data: {json.dumps(event)}\n\n".encode())
            time.sleep(0.01)
        self._send_chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _send_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--lifetime", type=float, default=900.0, help="stop by itself after this many seconds")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    timer = threading.Timer(args.lifetime, server.shutdown)
    timer.daemon = True
    timer.start()
    server.serve_forever()


if __name__ == "__main__":
    main()
