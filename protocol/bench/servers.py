"""The benchmark's upstream: an OpenAI-compatible server on 127.0.0.1, in its own process (`bench.py --serve`).

loop_upstream.py extends it with what a tool loop needs (caal_loop.py's upstream).
"""

from __future__ import annotations

import asyncio
import gc
import json
import re
import subprocess
import sys
from typing import Any

from measure import HERE, MESSAGES, ms, now_ns

#
# The answer is chosen by the request's `model`, which every client passes through unchanged:
#   "bench;n=2000;size=5;interval=0;first=0;mode=each;tag=abc"
#   n         content deltas (after OpenAI's initial role chunk); then a finish chunk, a usage chunk, [DONE]
#   size      characters per delta
#   interval  ms between deltas (0 = instant)   first: ms before the first delta
#   mode      instant only: "each" = one socket write per event (a server generating tokens as fast as it
#             can), "burst" = the whole answer in one write
#   stamp     1 = each delta's content starts with the server's CLOCK_MONOTONIC ns at send time + "|"
#             (for added-latency measurements)
#   hold      ms before the response head is sent (a server that thinks before answering)
#   tag       the server records send times and the moment the client closed the connection under it
#   drop      1 = on a connection that already answered a request, read the request, then reset the connection
#             without answering (a server dropping a kept-alive connection); on a new connection, answer
#   close     1 = close the connection once the answer is sent (the next request needs a new one)
# GET /_bench/stats?tag=T returns that record as JSON; GET {base}/models lists the one model (a worker's warm-up).
# A server started with an idle close (`UpstreamConnection.idle_close_s`, bench.py --serve --idle-close S) closes a
# connection idle that long, as uvicorn-based servers (vLLM, LiteLLM) and llama.cpp's server do after 5 s.

CHUNK_PREFIX = (b'{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
                b'"model":"bench","system_fingerprint":"fp_bench","choices":[{"index":0,"delta":')


def _event(delta_json: bytes, finish: bytes = b"null") -> bytes:
    return b"data: " + CHUNK_PREFIX + delta_json + b',"logprobs":null,"finish_reason":' + finish + b"}]}\n\n"


def _frame(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


ROLE_EVENT = _event(b'{"role":"assistant","content":""}')
USAGE_EVENT = (b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench",'
               b'"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":%d,"total_tokens":%d}}\n\n')
DONE_EVENT = b"data: [DONE]\n\n"
FINISH_EVENT = _event(b"{}", b'"stop"')
WORDS = "the quick brown fox jumps over a lazy dog while voice assistants speak every token aloud ".split()


def delta_text(i: int, size: int) -> str:
    word = WORDS[i % len(WORDS)]
    return (" " + word * (size // len(word) + 1))[:size]


def parse_spec(model: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"n": 20, "size": 5, "interval": 0.0, "first": 0.0, "hold": 0.0, "mode": "each", "stamp": 0,
                            "tag": None}
    for part in model.split(";")[1:]:
        key, _, value = part.partition("=")
        if key in ("n", "size", "stamp", "drop", "close"):
            spec[key] = int(value)
        elif key in ("interval", "first", "hold"):
            spec[key] = float(value)
        else:
            spec[key] = value
    return spec


def make_spec(**fields: Any) -> str:
    return "bench;" + ";".join(f"{k}={v}" for k, v in fields.items() if v is not None)


class UpstreamState:
    def __init__(self) -> None:
        self.stats: dict[str, dict[str, Any]] = {}
        self.frames: dict[tuple[int, int], list[bytes]] = {}
        self.requests = 0

    def instant_frames(self, n: int, size: int) -> list[bytes]:
        key = (n, size)
        frames = self.frames.get(key)
        if frames is None:
            frames = [_frame(ROLE_EVENT)]
            for i in range(n):
                frames.append(_frame(_event(json.dumps({"content": delta_text(i, size)}, separators=(",", ":")).encode())))
            frames.append(_frame(FINISH_EVENT))
            frames.append(_frame(USAGE_EVENT % (n, n + 12)))
            frames.append(_frame(DONE_EVENT))
            frames.append(b"0\r\n\r\n")
            self.frames[key] = frames
        return frames


class UpstreamConnection(asyncio.Protocol):
    idle_close_s = 0.0
    HEAD_OK = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n")

    def __init__(self, state: UpstreamState) -> None:
        self.state = state
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.record: dict[str, Any] | None = None  # stats of the stream in progress, if tagged
        self.streaming = False
        self.timer: asyncio.TimerHandle | None = None
        self.closed = False
        self.answered = 0
        self.close_after = False
        self.idle_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            import socket
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.arm_idle_close()

    def arm_idle_close(self) -> None:
        self.disarm_idle_close()
        if self.idle_close_s > 0 and not self.closed:
            self.idle_timer = asyncio.get_running_loop().call_later(self.idle_close_s, self.transport.close)

    def disarm_idle_close(self) -> None:
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None

    def data_received(self, data: bytes) -> None:
        self.disarm_idle_close()
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
            method, target, _ = head[0].split(" ", 2)
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0") or 0)
            if len(self.buffer) < end + 4 + length:
                if headers.get("expect", "").lower() == "100-continue" and not getattr(self, "_continued", False):
                    self._continued = True
                    self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                return
            self._continued = False
            body = bytes(self.buffer[end + 4:end + 4 + length])
            del self.buffer[:end + 4 + length]
            self.handle(method, target, body)

    def handle(self, method: str, target: str, body: bytes) -> None:
        self.state.requests += 1
        if target.startswith("/_bench/stats"):
            tag = target.partition("tag=")[2]
            self.reply_json(self.state.stats.get(tag, {}))
            return
        if target.startswith("/_bench/clear"):
            self.state.stats.clear()
            self.reply_json({"ok": True})
            return
        if method == "GET" and target.endswith("/models"):
            self.reply_json({"object": "list", "data": [{"id": "bench", "object": "model", "owned_by": "bench"}]})
            return
        if method != "POST" or not target.endswith("/chat/completions"):
            self.reply_json({"error": {"message": "not found", "type": "not_found"}}, status=b"404 Not Found")
            return
        request = json.loads(body)
        spec = parse_spec(str(request.get("model", "bench")))
        if spec.get("drop") and self.answered:
            import socket
            import struct
            self.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.transport.abort()
            return
        self.answered += 1
        self.close_after = bool(spec.get("close"))
        if spec["hold"] > 0:
            asyncio.get_running_loop().call_later(spec["hold"] / 1000, self.answer, request, dict(spec, hold=0))
            return
        self.answer(request, spec)

    def answer(self, request: dict[str, Any], spec: dict[str, Any]) -> None:
        if self.closed:
            return
        if not request.get("stream"):
            text = "".join(delta_text(i, spec["size"]) for i in range(spec["n"]))
            self.reply_json({"id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000, "model": "bench",
                             "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": 12, "completion_tokens": spec["n"], "total_tokens": spec["n"] + 12}})
            return
        self.record = None
        if spec["tag"]:
            self.record = {"t_request": now_ns(), "t_first": None, "t_last": None, "t_closed": None, "sent": 0, "complete": False}
            self.state.stats[spec["tag"]] = self.record
        self.streaming = True
        transport = self.transport
        assert transport is not None
        if spec["interval"] <= 0 and spec["first"] <= 0 and not spec["stamp"]:
            frames = self.state.instant_frames(spec["n"], spec["size"])
            t_first = now_ns()
            if spec["mode"] == "burst":
                transport.write(self.HEAD_OK + b"".join(frames))
            else:
                transport.write(self.HEAD_OK + frames[0])
                write = transport.write
                for frame in frames[1:]:
                    write(frame)
            self.end_stream(t_first, spec["n"])
            return
        transport.write(self.HEAD_OK + _frame(ROLE_EVENT))
        self.paced(spec, 0, None)

    def paced(self, spec: dict[str, Any], sent: int, t_first: int | None) -> None:
        """Sends delta number `sent` now if due (after `first`, then every `interval` ms)."""
        loop = asyncio.get_running_loop()
        if self.closed:
            return
        if sent == 0 and t_first is None and spec["first"] > 0:
            self.timer = loop.call_later(spec["first"] / 1000, self.paced, spec, 0, 0)
            return
        t = now_ns()
        text = delta_text(sent, spec["size"])
        if spec["stamp"]:
            text = (f"{t}|" + text)[: max(spec["size"], 21)]
        self.transport.write(_frame(_event(json.dumps({"content": text}, separators=(",", ":")).encode())))
        if self.record is not None:
            if self.record["t_first"] is None:
                self.record["t_first"] = t
            self.record["sent"] = sent + 1
        if sent + 1 < spec["n"]:
            self.timer = loop.call_later(spec["interval"] / 1000, self.paced, spec, sent + 1, t_first or t)
        else:
            self.transport.write(_frame(FINISH_EVENT) + _frame(USAGE_EVENT % (spec["n"], spec["n"] + 12))
                                 + _frame(DONE_EVENT) + b"0\r\n\r\n")
            self.end_stream(t_first or t, spec["n"])

    def end_stream(self, t_first: int, sent: int) -> None:
        self.streaming = False
        if self.close_after:
            self.transport.close()
        self.arm_idle_close()
        if self.record is not None:
            if self.record["t_first"] is None:
                self.record["t_first"] = t_first
            self.record.update(t_last=now_ns(), sent=sent, complete=True)
            self.record = None

    def reply_json(self, value: Any, status: bytes = b"200 OK") -> None:
        body = json.dumps(value).encode()
        self.transport.write(b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                             % (status, len(body), body))
        self.arm_idle_close()

    def eof_received(self) -> bool:
        self.client_closed()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.client_closed()

    def client_closed(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.disarm_idle_close()
        if self.timer is not None:
            self.timer.cancel()
        if self.streaming and self.record is not None:
            self.record["t_closed"] = now_ns()


def serve(port: int, connection: type[UpstreamConnection] = UpstreamConnection) -> None:
    async def main() -> None:
        state = UpstreamState()
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: connection(state), "127.0.0.1", port, backlog=2048)
        print(server.sockets[0].getsockname()[1], flush=True)
        # Stop when the parent goes away (its end of our stdin closes).
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        await reader.read()
        server.close()

    gc.disable()  # no collector pauses in the middle of a measured stream
    asyncio.run(main())


class UpstreamProcess:
    """The server in a child process, so its CPU time never lands on the measured client's event loop."""

    def __init__(self, argv: list[str] | None = None) -> None:
        argv = argv or [str(HERE / "bench.py"), "--serve"]  # a script whose --serve calls serve()
        self.proc = subprocess.Popen([sys.executable, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = self.proc.stdout.readline()
        self.port = int(line)
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def close(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except Exception:
            self.proc.kill()
            self.proc.wait()

    async def request(self, target: str) -> Any:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(f"GET {target} HTTP/1.1\r\nHost: bench\r\nContent-Length: 0\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
        body = await reader.readexactly(length)
        writer.close()
        return json.loads(body)

    async def stats(self, tag: str) -> dict[str, Any]:
        return await self.request(f"/_bench/stats?tag={tag}")

    async def raw_read(self, spec: str) -> float:
        """Reads a whole streamed answer with a raw socket, without parsing: what the server plus the kernel cost."""
        body = json.dumps({"model": spec, "messages": MESSAGES, "stream": True}).encode()
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        request = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                   b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        t0 = now_ns()
        writer.write(request)
        tail = b""
        while True:
            data = await reader.read(1 << 16)
            if not data:
                break
            tail = (tail + data)[-5:]
            if tail == b"0\r\n\r\n":
                break
        t1 = now_ns()
        writer.close()
        return ms(t1 - t0)
