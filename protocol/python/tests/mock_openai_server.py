"""A scriptable OpenAI-compatible HTTP server for the tests (standard library only).

It listens on 127.0.0.1 with an OS-chosen port, speaks HTTP/1.1 with
keep-alive, and answers ``POST .../chat/completions`` either as one JSON body
or as a chunked SSE stream (when the request says ``"stream": true``), in the
wire shapes of OpenAI's API.  ``GET .../models`` lists models.

Each test scripts what the server does next with :class:`Reply` objects
(queued, one per chat request, or chosen by a responder function such as
:class:`ToolRounds`, which answers by where a tool loop stands): text deltas,
reasoning, tool calls, an error status with any body and headers, delays
paced like a model's tokens, and a pause until the test lets the stream go on.  The server records every request it receives and every stream it
serves, including whether the client closed the connection before the stream
ended (which is how a test sees that a cancel reached the upstream).
"""

from __future__ import annotations

import collections
import json
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["MockOpenAIServer", "Reply", "RecordedRequest", "StreamRecord", "ToolRounds"]


@dataclass
class Reply:
    """What the server answers to one chat completion request.

    ``status`` other than 200 sends ``body`` (a dict as JSON, or str/bytes as
    is) with ``headers``.  Otherwise the answer has ``text`` (content),
    ``reasoning`` (sent as ``reasoning_content``) and ``tool_calls``
    (``[{"name", "arguments": dict|str, "id"?}]``); streamed in pieces of
    ``chunk_chars`` characters, ``delay_s`` apart, after ``first_delay_s``.
    A non-streamed answer is sent when its stream would have ended, as a
    model's would.  With ``hold`` set, a stream stops after ``hold_after``
    deltas until the event is set (or ``hold_timeout_s`` has passed).
    """

    text: str | None = None
    reasoning: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    chunk_chars: int = 4
    delay_s: float = 0.0
    first_delay_s: float = 0.0
    usage: dict[str, Any] | None = None
    finish_reason: str | None = None
    model: str | None = None
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hold: threading.Event | None = None
    hold_after: int = 1
    hold_timeout_s: float = 30.0

    @classmethod
    def error(
        cls,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """An OpenAI-shaped error body: ``{"error": {"message", "type", "code"}}``."""
        return cls(
            status=status,
            body={"error": {"message": message, "type": type, "param": None, "code": code}},
            headers=dict(headers or {}),
        )


@dataclass
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes
    received_at: float


@dataclass
class StreamRecord:
    """One SSE response as the server sent it."""

    request: RecordedRequest
    planned_events: int
    sent_events: int = 0
    completed: bool = False
    disconnected: bool = False
    disconnected_at: float | None = None


def _last_user_text(body: Any) -> str:
    try:
        for message in reversed(body.get("messages") or []):
            if message.get("role") == "user":
                content = message.get("content")
                return content if isinstance(content, str) else json.dumps(content)
    except AttributeError:
        pass
    return ""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
    mock: MockOpenAIServer


class _ClientGone(Exception):
    """The client closed the connection."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    # -- reading ---------------------------------------------------------
    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline()
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _record(self) -> RecordedRequest:
        raw = self._read_body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            raw=raw,
            received_at=time.monotonic(),
        )
        self.server.mock._record_request(request)
        return request

    # -- writing ---------------------------------------------------------
    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        if isinstance(payload, (bytes, bytearray)):
            data = bytes(payload)
            content_type = "text/plain"
        elif isinstance(payload, str):
            data = payload.encode()
            content_type = "text/html" if payload.lstrip().startswith("<") else "text/plain"
        else:
            data = json.dumps(payload).encode()
            content_type = "application/json"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _client_gone(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True as soon as the client closes the connection."""
        sock = self.connection
        deadline = time.monotonic() + timeout
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            readable, _, _ = select.select([sock], [], [], remaining)
            if readable:
                try:
                    peek = sock.recv(1, socket.MSG_PEEK)
                except (ConnectionResetError, OSError):
                    return True
                if peek == b"":
                    return True
                # Unexpected bytes from the client mid-response: just wait out the delay.
                time.sleep(remaining)
                return False
            if remaining <= 0:
                return False

    def _held(self, reply: Reply) -> bool:
        """Wait until the test sets ``reply.hold``; True if the client left meanwhile."""
        assert reply.hold is not None
        deadline = time.monotonic() + reply.hold_timeout_s
        while not reply.hold.is_set() and time.monotonic() < deadline:
            if self._client_gone(0.02):
                return True
        return False

    def _write_chunk(self, data: bytes) -> None:
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        except (BrokenPipeError, ConnectionResetError, OSError) as exc:
            raise _ClientGone() from exc

    # -- routes ------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        request = self._record()
        if request.path.rstrip("/").endswith("/models"):
            self._send_json(200, {"object": "list", "data": self.server.mock.models})
        else:
            self._send_json(404, {"error": {"message": f"no route {request.path}", "type": "not_found"}})

    def do_POST(self) -> None:  # noqa: N802
        request = self._record()
        if not request.path.rstrip("/").endswith("/chat/completions"):
            self._send_json(404, {"error": {"message": f"no route {request.path}", "type": "not_found"}})
            return
        reply = self.server.mock._next_reply(request)
        body = request.body if isinstance(request.body, dict) else {}
        if reply.status != 200:
            if reply.first_delay_s:
                time.sleep(reply.first_delay_s)
            self._send_json(reply.status, reply.body if reply.body is not None else {}, reply.headers)
            return
        if body.get("stream"):
            self._stream(request, body, reply)
        else:
            deltas = len(_stream_events(body, reply)) - 1
            pause = reply.first_delay_s + reply.delay_s * max(0, deltas - 1)
            if pause:
                time.sleep(pause)
            self._send_json(200, _completion(body, reply), reply.headers)

    def _stream(self, request: RecordedRequest, body: dict[str, Any], reply: Reply) -> None:
        events = _stream_events(body, reply)
        record = StreamRecord(request=request, planned_events=len(events))
        mock = self.server.mock
        mock._record_stream(record)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.flush()
            if reply.first_delay_s and self._client_gone(reply.first_delay_s):
                raise _ClientGone()
            for number, event in enumerate(events):
                if number and reply.delay_s and self._client_gone(reply.delay_s):
                    raise _ClientGone()
                if reply.hold is not None and number == reply.hold_after + 1 and self._held(reply):
                    raise _ClientGone()
                self._write_chunk(b"data: " + event.encode() + b"\n\n")
                record.sent_events += 1
            self._write_chunk(b"")  # end of the chunked body
            record.completed = True
        except _ClientGone:
            self.close_connection = True
            mock._record_disconnect(record)


def _usage(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    if reply.usage is not None:
        usage = dict(reply.usage)
    else:
        prompt = sum(len(str(m.get("content") or "").split()) for m in body.get("messages") or [] if isinstance(m, dict))
        usage = {"prompt_tokens": prompt, "completion_tokens": len((reply.text or "").split())}
    usage.setdefault("total_tokens", usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0))
    return usage


def _tool_calls(reply: Reply) -> list[dict[str, Any]]:
    calls = []
    for index, call in enumerate(reply.tool_calls or []):
        arguments = call.get("arguments", {})
        calls.append(
            {
                "id": call.get("id") or f"call_{index}_{abs(hash(call['name'])) % 10000}",
                "type": "function",
                "function": {
                    "name": call["name"],
                    "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
                },
            }
        )
    return calls


def _finish_reason(reply: Reply) -> str:
    return reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")


def _completion(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text}
    if reply.reasoning is not None:
        message["reasoning_content"] = reply.reasoning
    calls = _tool_calls(reply)
    if calls:
        message["tool_calls"] = calls
    return {
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": reply.model or body.get("model") or "mock-model",
        "choices": [{"index": 0, "message": message, "finish_reason": _finish_reason(reply)}],
        "usage": _usage(body, reply),
    }


def _pieces(text: str, size: int) -> list[str]:
    if size <= 0:
        return [text] if text else []
    return [text[i : i + size] for i in range(0, len(text), size)]


def _stream_events(body: dict[str, Any], reply: Reply) -> list[str]:
    model = reply.model or body.get("model") or "mock-model"
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        return json.dumps(
            {
                "id": "chatcmpl-mock",
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
        )

    events = [chunk({"role": "assistant", "content": ""})]
    for piece in _pieces(reply.reasoning or "", reply.chunk_chars):
        events.append(chunk({"reasoning_content": piece}))
    for piece in _pieces(reply.text or "", reply.chunk_chars):
        events.append(chunk({"content": piece}))
    for index, call in enumerate(_tool_calls(reply)):
        events.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": call["function"]["name"], "arguments": ""},
                        }
                    ]
                }
            )
        )
        for piece in _pieces(call["function"]["arguments"], reply.chunk_chars):
            events.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
    events.append(chunk({}, _finish_reason(reply)))
    stream_options = body.get("stream_options")
    if isinstance(stream_options, dict) and stream_options.get("include_usage"):
        events.append(
            json.dumps(
                {
                    "id": "chatcmpl-mock",
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": _usage(body, reply),
                }
            )
        )
    events.append("[DONE]")
    return events


class ToolRounds:
    """A responder for tool loops: the reply depends on where the conversation stands, not on request order.

    A request that may call tools (it offers ``tools`` and its ``tool_choice``
    is not ``"none"``) gets ``rounds[k]``, ``k`` being the number of assistant
    messages with tool calls after the last user message (the last entry
    answers every later round).  A request that may not gets ``final``.  An
    entry may be a list of replies, given to successive requests for the same
    position (the last repeats): a failed attempt, then its retry.
    """

    def __init__(self, rounds: list[Reply | list[Reply]], final: Reply | list[Reply]) -> None:
        self.rounds = rounds
        self.final = final
        self._asked: collections.Counter[tuple[str, int]] = collections.Counter()
        self._lock = threading.Lock()

    @staticmethod
    def position(body: Any) -> int:
        messages = (body.get("messages") or []) if isinstance(body, dict) else []
        last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
        return sum(1 for m in messages[last_user + 1 :] if m.get("role") == "assistant" and m.get("tool_calls"))

    def __call__(self, request: RecordedRequest) -> Reply:
        body = request.body if isinstance(request.body, dict) else {}
        position = self.position(body)
        if body.get("tools") and body.get("tool_choice") != "none":
            key, entry = ("round", position), self.rounds[min(position, len(self.rounds) - 1)]
        else:
            key, entry = ("final", position), self.final
        with self._lock:
            attempt = self._asked[key]
            self._asked[key] += 1
        if isinstance(entry, list):
            return entry[min(attempt, len(entry) - 1)]
        return entry


class MockOpenAIServer:
    """The scriptable server; use as a context manager or start()/stop().

    ``replies`` is a FIFO of :class:`Reply` for chat requests; when it is empty
    the ``responder`` (a function of the :class:`RecordedRequest`) decides, and
    without one the answer is ``"echo: <last user message>"``.
    """

    def __init__(self, models: list[dict[str, Any]] | None = None) -> None:
        self.models: list[dict[str, Any]] = models or [
            {"id": "mock-model", "object": "model", "owned_by": "tests"},
            {"id": "mock-model-2", "object": "model", "owned_by": "tests"},
        ]
        self._lock = threading.Condition()
        self.replies: collections.deque[Reply] = collections.deque()
        self.responder: Callable[[RecordedRequest], Reply] | None = None
        self.requests: list[RecordedRequest] = []
        self.streams: list[StreamRecord] = []
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> MockOpenAIServer:
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.mock = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="mock-openai-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> MockOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting ---------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self.replies.clear()
            self.responder = None
            self.requests.clear()
            self.streams.clear()

    def add(self, *replies: Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    def _next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            if self.replies:
                return self.replies.popleft()
            responder = self.responder
        if responder is not None:
            return responder(request)
        return Reply(text="echo: " + _last_user_text(request.body))

    # -- records -----------------------------------------------------------
    def _record_request(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)
            self._lock.notify_all()

    def _record_stream(self, record: StreamRecord) -> None:
        with self._lock:
            self.streams.append(record)
            self._lock.notify_all()

    def _record_disconnect(self, record: StreamRecord) -> None:
        with self._lock:
            record.disconnected = True
            record.disconnected_at = time.monotonic()
            self._lock.notify_all()

    def chat_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.rstrip("/").endswith("/chat/completions")]

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``predicate()`` (evaluated under the server's lock) is true."""
        with self._lock:
            return self._lock.wait_for(predicate, timeout)

    def wait_for_disconnect(self, timeout: float = 5.0) -> StreamRecord | None:
        """The first stream the client abandoned, waiting up to ``timeout`` seconds for one."""
        found: list[StreamRecord] = []

        def gone() -> bool:
            found[:] = [s for s in self.streams if s.disconnected]
            return bool(found)

        return found[0] if self.wait_for(gone, timeout) else None
