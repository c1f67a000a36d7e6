#!/usr/bin/env python3
"""Benchmark of caal-llm-worker against the openai SDK and a bare aiohttp client (issue 7).

    python3 protocol/bench/bench.py            # the full table (a few minutes on 2 cores)
    python3 protocol/bench/bench.py --quick    # fewer repeats, for a quick look
    python3 protocol/bench/bench.py --json     # machine-readable results on stdout

What it does, on its own:
  * builds the worker as it ships (`swift build -c release --static-swift-stdlib`, the build of
    Tests/release/build-release.sh) into .build-bench/ (git-ignored; incremental, seconds when up to date);
    --binary PATH measures another build instead, --no-build uses .build-bench as it is;
  * creates protocol/bench/.venv (git-ignored) and pip-installs `openai` and `aiohttp` into it if they are
    missing, then re-runs itself with that interpreter. Without pip (or with --worker-only) only the worker
    column is measured. The product never needs either package: they are the comparison.
  * starts its own OpenAI-compatible upstream on 127.0.0.1 in a separate process (asyncio, HTTP/1.1
    keep-alive, chunked SSE in the exact wire shape of the OpenAI API, instant or paced, any number and size
    of deltas), and checks it is not the bottleneck (a raw socket reads its whole answer far faster than any
    client parses it);
  * measures every scenario for the three clients round-robin in one run (so machine noise hits all three
    alike), after warm-up, and prints medians with the ratios and the targets of issue 7.

The worker column goes through the real Python client (protocol/python, `WorkerClient`), i.e. the path CAAL
uses: Python → pipe → worker → HTTP → worker → pipe → Python. The openai SDK column is `AsyncOpenAI`
streaming in process; the aiohttp column reads and json-decodes the SSE stream directly (the floor).

Nothing here is a test: `swift test` never depends on timing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VENV = HERE / ".venv"
BUILD_DIR = ROOT / ".build-bench"
DEFAULT_BINARY = BUILD_DIR / "release" / "caal-llm-worker"
sys.path.insert(0, str(ROOT / "protocol" / "python"))

MESSAGES = [{"role": "system", "content": "You are a helpful voice assistant."},
            {"role": "user", "content": "Tell me a story."}]


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def now_ns() -> int:
    # CLOCK_MONOTONIC: the same clock in every process of this machine, so the server's send time and a
    # client's receive time can be subtracted.
    return time.monotonic_ns()


def ms(ns: float) -> float:
    return ns / 1e6


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def rss_kib(pid: int, field: str = "VmRSS") -> int | None:
    """VmRSS (resident now) or VmHWM (peak resident) of a process, from /proc."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_ms(pid: int) -> float | None:
    """CPU time a process has used so far (user + system), in ms, from /proc (10 ms steps)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


# =====================================================================================================
# The upstream server (runs in its own process: `bench.py --serve`)
# =====================================================================================================
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
# GET /_bench/stats?tag=T returns that record as JSON.

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

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            import socket
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
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
        if self.record is not None:
            if self.record["t_first"] is None:
                self.record["t_first"] = t_first
            self.record.update(t_last=now_ns(), sent=sent, complete=True)
            self.record = None

    def reply_json(self, value: Any, status: bytes = b"200 OK") -> None:
        body = json.dumps(value).encode()
        self.transport.write(b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                             % (status, len(body), body))

    def eof_received(self) -> bool:
        self.client_closed()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.client_closed()

    def client_closed(self) -> None:
        if self.closed:
            return
        self.closed = True
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
        argv = argv or [str(Path(__file__).resolve()), "--serve"]  # a script whose --serve calls serve()
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


# =====================================================================================================
# The three clients, behind one interface: stream(spec, on_content) -> when the whole answer is in
# =====================================================================================================

class WorkerSide:
    name = "worker"

    def __init__(self, binary: Path, base_url: str) -> None:
        from caal_llm_worker import WorkerClient  # the product's own Python client (standard library only)

        self.client = WorkerClient(binary, config={"provider": "openai_compatible", "base_url": base_url, "model": "bench"})

    async def start(self) -> None:
        await self.client.start()

    @property
    def pid(self) -> int | None:
        return self.client.pid

    async def stream(self, spec: str, on_content: Callable[[str], None] | None = None) -> Any:
        stream = self.client.chat_stream(MESSAGES, model=spec)
        async for delta in stream:
            if on_content is not None:
                text = delta.get("content")
                if text:
                    on_content(text)
        return stream.result

    async def cancel_after_first(self, spec: str, t_cancel: list[int]) -> None:
        stream = self.client.chat_stream(MESSAGES, model=spec)
        async for delta in stream:
            if delta.get("content"):
                t_cancel.append(now_ns())
                stream.cancel()  # writes the `cancel` line right away
                break

    async def close(self) -> None:
        await self.client.close()


class OpenAISide:
    name = "openai"

    def __init__(self, base_url: str) -> None:
        from openai import AsyncOpenAI

        # The SDK's defaults (as CAAL uses it), without retries.
        self.client = AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)

    async def start(self) -> None:
        pass

    async def stream(self, spec: str, on_content: Callable[[str], None] | None = None) -> Any:
        stream = await self.client.chat.completions.create(model=spec, messages=MESSAGES, stream=True,
                                                           stream_options={"include_usage": True})
        async for chunk in stream:
            if chunk.choices and on_content is not None:
                text = chunk.choices[0].delta.content
                if text:
                    on_content(text)
        return True

    async def cancel_after_first(self, spec: str, t_cancel: list[int]) -> None:
        stream = await self.client.chat.completions.create(model=spec, messages=MESSAGES, stream=True)
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                t_cancel.append(now_ns())
                await stream.close()
                break

    async def close(self) -> None:
        await self.client.close()


class AiohttpSide:
    name = "aiohttp"

    def __init__(self, base_url: str) -> None:
        import aiohttp

        self.url = base_url + "/chat/completions"
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    async def start(self) -> None:
        pass

    async def stream(self, spec: str, on_content: Callable[[str], None] | None = None) -> Any:
        body = {"model": spec, "messages": MESSAGES, "stream": True, "stream_options": {"include_usage": True}}
        async with self.session.post(self.url, json=body) as response:
            async for line in response.content:
                if not line.startswith(b"data:"):
                    continue
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    continue  # read on to the end of the body, so the connection is reused
                chunk = json.loads(payload)
                choices = chunk.get("choices")
                if choices and on_content is not None:
                    text = choices[0].get("delta", {}).get("content")
                    if text:
                        on_content(text)
        return True

    async def cancel_after_first(self, spec: str, t_cancel: list[int]) -> None:
        body = {"model": spec, "messages": MESSAGES, "stream": True}
        response = await self.session.post(self.url, json=body)
        async for line in response.content:
            if not line.startswith(b"data:") or line.startswith(b"data: [DONE]"):
                continue
            choices = json.loads(line[5:]).get("choices")
            if choices and choices[0].get("delta", {}).get("content"):
                t_cancel.append(now_ns())
                response.close()  # closes the connection
                break

    async def close(self) -> None:
        await self.session.close()


def make_side(kind: str, binary: Path, base_url: str):
    if kind == "worker":
        return WorkerSide(binary, base_url)
    if kind == "openai":
        return OpenAISide(base_url)
    return AiohttpSide(base_url)


# =====================================================================================================
# Scenarios
# =====================================================================================================

# A measurement of one column taking longer than this is a failure of that column, not a wait without end.
MEASURE_LIMIT_S = 300.0


def failure_reason(exc: BaseException) -> str:
    """One line saying why a column failed."""
    if isinstance(exc, (asyncio.TimeoutError, subprocess.TimeoutExpired)):
        return "no result within the benchmark's time limit"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


async def round_robin(sides: list, warmup: int, repeats: int, measure,
                      failed: dict[str, str] | None = None) -> dict[str, list[float]]:
    """Runs `measure(side)` for each side in turn, `warmup` discarded rounds then `repeats` kept ones.

    With `failed`, a side whose measurement fails (or outlasts MEASURE_LIMIT_S) is left out of the remaining
    rounds, its reason recorded there under its name, and the other sides go on; without it, the failure is
    raised."""
    samples: dict[str, list[float]] = {side.name: [] for side in sides}
    for round_number in range(warmup + repeats):
        order = sides if round_number % 2 == 0 else list(reversed(sides))
        for side in order:
            if side.name in failed:
                continue
            gc.collect()
            try:
                value = await asyncio.wait_for(measure(side), MEASURE_LIMIT_S)
            except Exception as exc:
                if failed is None:
                    raise
                failed[side.name] = failure_reason(exc)
                log(f"{side.name} failed: {failed[side.name]}; the other columns go on")
                samples[side.name] = []
                continue
            if round_number >= warmup:
                samples[side.name].append(value)
    return samples


async def scenario_ttft(sides, cfg, failed: dict[str, str]) -> dict[str, list[float]]:
    spec = make_spec(n=20, size=5)

    async def measure(side) -> float:
        first: list[int] = []
        t0 = now_ns()
        await side.stream(spec, lambda text: first.append(now_ns()) if not first else None)
        return ms(first[0] - t0)

    return await round_robin(sides, cfg.warmup, cfg.repeats_ttft, measure, failed)


async def scenario_throughput(sides, cfg, mode: str, failed: dict[str, str]) -> dict[str, list[float]]:
    spec = make_spec(n=cfg.deltas, size=cfg.delta_size, mode=mode)
    expected = sum(len(delta_text(i, cfg.delta_size)) for i in range(cfg.deltas))

    async def measure(side) -> float:
        received = [0]

        def count(text: str) -> None:
            received[0] += len(text)

        t0 = now_ns()
        await side.stream(spec, count)
        elapsed = ms(now_ns() - t0)
        if received[0] != expected:
            raise RuntimeError(f"{side.name} received {received[0]} characters of {expected}")
        return elapsed

    return await round_robin(sides, cfg.warmup, cfg.repeats_throughput, measure, failed)


async def scenario_cancel(sides, cfg, upstream: UpstreamProcess, failed: dict[str, str]) -> dict[str, list[float]]:
    async def measure(side) -> float:
        tag = uuid.uuid4().hex[:12]
        spec = make_spec(n=2000, size=5, interval=10, tag=tag)
        t_cancel: list[int] = []
        await side.cancel_after_first(spec, t_cancel)
        for _ in range(400):
            record = await upstream.stats(tag)
            if record.get("t_closed") or record.get("complete"):
                break
            await asyncio.sleep(0.005)
        if not record.get("t_closed"):
            raise RuntimeError(f"{side.name}: the upstream connection was not closed after cancel")
        await asyncio.sleep(0.02)  # let the cancelled request's answer arrive before the next round
        return ms(record["t_closed"] - t_cancel[0])

    return await round_robin(sides, cfg.warmup, cfg.repeats_cancel, measure, failed)


async def scenario_reconnect(worker, cfg) -> dict[str, list[float]]:
    """The worker only: a request whose kept-alive connection the server drops without answering (how long until
    its answer, and the worker's CPU meanwhile), and the worker's CPU while it waits 1 s for a first token on a
    kept-alive connection and on a new one."""
    samples: dict[str, list[float]] = {"recover_ms": [], "recover_cpu_ms": [], "wait_reused_cpu_ms": [],
                                       "wait_new_cpu_ms": []}

    async def cpu_during(spec: str) -> tuple[float, float]:
        c0, t0 = cpu_ms(worker.pid), now_ns()
        await worker.stream(spec)
        return ms(now_ns() - t0), cpu_ms(worker.pid) - c0

    wait = make_spec(n=1, first=cfg.reconnect_wait_ms)
    for round_number in range(cfg.warmup + cfg.repeats_reconnect):
        await worker.stream(make_spec(n=1))  # leaves a kept-alive connection
        elapsed, cpu = await cpu_during(make_spec(n=20, drop=1))
        _, reused = await cpu_during(wait)
        await worker.stream(make_spec(n=1, close=1))  # the next request needs a new connection
        _, new = await cpu_during(wait)
        if round_number >= cfg.warmup:
            for key, value in (("recover_ms", elapsed), ("recover_cpu_ms", cpu), ("wait_reused_cpu_ms", reused),
                               ("wait_new_cpu_ms", new)):
                samples[key].append(value)
    return samples


def measure_startup(binary: Path, venv_python: str | None, repeats: int, warmup: int) -> dict[str, list[float]]:
    ping = b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n'

    def worker_once() -> float:
        t0 = now_ns()
        proc = subprocess.Popen([str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        proc.stdin.write(ping)
        proc.stdin.flush()
        line = proc.stdout.readline()
        t1 = now_ns()
        if b'"ok":true' not in line:
            raise RuntimeError(f"unexpected ping answer: {line!r}")
        proc.stdin.close()
        proc.wait()
        return ms(t1 - t0)

    def python_once(code: str) -> float:
        t0 = now_ns()
        subprocess.run([venv_python, "-c", code], check=True)
        return ms(now_ns() - t0)

    samples: dict[str, list[float]] = {"worker": [], "openai": [], "aiohttp": []}
    for round_number in range(warmup + repeats):
        values = {"worker": worker_once()}
        if venv_python:
            values["openai"] = python_once("import openai")
            values["aiohttp"] = python_once("import aiohttp")
        if round_number >= warmup:
            for key, value in values.items():
                samples[key].append(value)
    return samples


# --- scenarios run in a fresh child process per client (memory is then that client's alone) ---------

def reset_peak(pid: int) -> None:
    """Resets VmHWM (Linux: writing 5 to clear_refs), so the next peak is that of the phase that follows."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass


async def child_concurrency(side, params: dict[str, Any]) -> dict[str, Any]:
    """Paced streams first (a realistic load: added latency per delta), then instant ones (throughput);
    the peak RSS of each phase separately. One warm-up round opens the connections, as in a running assistant."""
    streams, n_instant, n_paced, interval = params["streams"], params["n_instant"], params["n_paced"], params["interval"]
    await side.start()
    pid = side.pid if side.name == "worker" else os.getpid()
    await asyncio.gather(*(side.stream(make_spec(n=5, size=5)) for _ in range(streams)))
    latencies: list[float] = []
    steady: list[float] = []  # deltas sent once all streams had started (0.5 s into the round)
    stamp = re.compile(r"(\d+)\|")
    round_start = [0]

    def on_content(text: str) -> None:
        t = now_ns()
        for sent in stamp.findall(text):
            latencies.append(ms(t - int(sent)))
            if int(sent) - round_start[0] >= 500_000_000:
                steady.append(ms(t - int(sent)))

    gc.collect()
    reset_peak(pid)
    for _ in range(params["repeats"]):
        spec = make_spec(n=n_paced, size=24, interval=interval, stamp=1)
        round_start[0] = now_ns()
        await asyncio.gather(*(side.stream(spec, on_content) for _ in range(streams)))
    peak_paced = rss_kib(pid, "VmHWM")
    throughput: list[float] = []
    gc.collect()
    reset_peak(pid)
    for _ in range(params["repeats"]):
        spec = make_spec(n=n_instant, size=5)
        t0 = now_ns()
        await asyncio.gather(*(side.stream(spec, lambda text: None) for _ in range(streams)))
        throughput.append(streams * n_instant / ((now_ns() - t0) / 1e9))
    expected = streams * n_paced * params["repeats"]
    return {"throughput": median(throughput), "throughput_samples": throughput,
            "latency_p50": percentile(latencies, 50), "latency_p99": percentile(latencies, 99),
            "steady_p50": percentile(steady, 50), "steady_p99": percentile(steady, 99),
            "latency_count": len(latencies), "latency_expected": expected,
            "peak_rss_paced_kib": peak_paced, "peak_rss_instant_kib": rss_kib(pid, "VmHWM")}


async def child_memory(side, params: dict[str, Any]) -> dict[str, Any]:
    total, concurrency, warm = params["requests"], params["concurrency"], params["warm"]
    await side.start()
    pid = side.pid if side.name == "worker" else os.getpid()
    spec = make_spec(n=5, size=5)
    await side.stream(spec)
    await asyncio.sleep(0.5)
    idle = rss_kib(pid)
    done = 0
    after_warm = None
    t0 = now_ns()

    async def one_lane(count: int) -> None:
        for _ in range(count):
            await side.stream(spec)

    while done < total:
        batch = min(total - done, warm if after_warm is None else total - done)
        lanes = [batch // concurrency + (1 if i < batch % concurrency else 0) for i in range(concurrency)]
        await asyncio.gather(*(one_lane(c) for c in lanes if c))
        done += batch
        if after_warm is None:
            gc.collect()
            await asyncio.sleep(0.3)
            after_warm = rss_kib(pid)
    elapsed = (now_ns() - t0) / 1e9
    gc.collect()
    await asyncio.sleep(0.5)
    return {"idle_rss_kib": idle, "warm_rss_kib": after_warm, "final_rss_kib": rss_kib(pid),
            "requests": total, "requests_per_s": total / elapsed}


def run_child(kind: str, task: str, binary: Path, base_url: str, params: dict[str, Any]) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--task", task, "--binary", str(binary),
               "--base-url", base_url, "--params", json.dumps(params)]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=MEASURE_LIMIT_S * 2)
    if result.returncode != 0:
        last = [line for line in result.stderr.splitlines() if line.strip()][-1:] or [f"status {result.returncode}"]
        raise RuntimeError(last[0].strip())
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure_child(results: dict[str, Any], task: str, kind: str, binary: Path, base_url: str, params: dict[str, Any]) -> None:
    """One column of a child-process scenario; a failure is recorded with its reason and the next column runs."""
    try:
        results[task][kind] = run_child(kind, task, binary, base_url, params)
    except Exception as exc:
        results["failed"].setdefault(task, {})[kind] = failure_reason(exc)
        log(f"{kind} failed: {failure_reason(exc)}; the other columns go on")


def child_main(kind: str, task: str, binary: Path, base_url: str, params: dict[str, Any]) -> None:
    async def main() -> dict[str, Any]:
        side = make_side(kind, binary, base_url)
        try:
            if task == "concurrency":
                return await child_concurrency(side, params)
            return await child_memory(side, params)
        finally:
            await side.close()

    print(json.dumps(asyncio.run(main())), flush=True)


# =====================================================================================================
# Report
# =====================================================================================================

class Row:
    def __init__(self, key: str, label: str, unit: str, values: dict[str, float | None], *, target: str = "",
                 met: bool | None = None, ratio_sdk: float | None = None, ratio_floor: float | None = None,
                 samples: dict[str, list[float]] | None = None, note: str = "") -> None:
        self.key, self.label, self.unit, self.values = key, label, unit, values
        self.target, self.met, self.ratio_sdk, self.ratio_floor = target, met, ratio_sdk, ratio_floor
        self.samples = samples or {}
        self.note = note
        self.failed: dict[str, str] = {}  # column -> why it has no value

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "scenario": self.label, "unit": self.unit, "worker": self.values.get("worker"),
                "openai": self.values.get("openai"), "aiohttp": self.values.get("aiohttp"),
                "worker_vs_openai": self.ratio_sdk, "worker_vs_aiohttp": self.ratio_floor,
                "target": self.target, "met": self.met, "note": self.note, "failed": self.failed,
                "samples": {k: [round(v, 4) for v in vs] for k, vs in self.samples.items()}}


COLUMN_NAMES = {"worker": "worker", "openai": "openai SDK", "aiohttp": "aiohttp"}
COLUMN_LABELS = {**{kind: f"{name} column" for kind, name in COLUMN_NAMES.items()}, "all": "every column"}


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "deltas/s":
        return f"{value:,.0f}"
    if unit == "MB":
        return f"{value:.1f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def fmt_ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def render(rows: list[Row], meta: dict[str, Any]) -> str:
    header = ["scenario", "unit", "worker", "openai SDK", "aiohttp", "SDK/worker", "worker/aiohttp", "target", "met"]
    table = [header]
    for row in rows:
        if row.key.startswith("failed_"):
            continue  # said below the table, with its reason
        met = "—" if row.met is None else ("yes" if row.met else "NO")
        cells = ["failed" if kind in row.failed or "all" in row.failed else fmt(row.values.get(kind), row.unit) for kind in COLUMN_NAMES]
        table.append([row.label, row.unit, *cells, fmt_ratio(row.ratio_sdk), fmt_ratio(row.ratio_floor),
                      row.target or "—", met])
    notes = [f"- {row.label}: {row.note}" for row in rows if row.note]
    out = markdown_table(table)
    if notes:
        out += "\n\n" + "\n".join(notes)
    out += (f"\n\nmachine: {meta['cores']} cores, load average {meta['load_before']} before / {meta['load_after']} after; "
            f"Python {meta['python']}; worker {meta['commit']}; {meta['elapsed_s']:.0f} s")
    return out


def markdown_table(table: list[list[str]]) -> str:
    """The rows (the first one the header) as an aligned Markdown table."""
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    lines = ["| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)) + " |" for r in table]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def below(value: float | None, limit: float) -> bool | None:
    """Whether a measured value is under its target; None when it was not measured (its column failed)."""
    return None if value is None else value < limit


def build_rows(results: dict[str, Any], cfg) -> list[Row]:
    rows = scenario_rows(results, cfg)
    failed: dict[str, dict[str, str]] = results.get("failed", {})
    for row in rows:
        for scenario, columns in failed.items():
            if row.key == scenario or row.key.startswith(scenario.replace("concurrency", "c256") + "_"):
                row.failed.update(columns)
    for scenario, columns in failed.items():
        for kind, reason in columns.items():
            rows.append(Row(f"failed_{scenario}_{kind}", f"{scenario}: {COLUMN_LABELS.get(kind, kind)} failed", "",
                            {}, note=reason))
    return rows


def scenario_rows(results: dict[str, Any], cfg) -> list[Row]:
    rows: list[Row] = []
    med = lambda samples: {k: median(v) for k, v in samples.items() if v}  # noqa: E731

    if "startup" in results:
        s = results["startup"]
        m = med(s)
        r = ratio(m.get("openai"), m.get("worker"))
        met = below(m.get("worker"), 20) and (r is None or r >= 25)
        rows.append(Row("startup", "start-up: spawn → first ping answered (SDK: python -c 'import openai')", "ms", m,
                        target="≥25× faster than import openai; <20 ms", met=met, ratio_sdk=r,
                        ratio_floor=ratio(m.get("worker"), m.get("aiohttp")), samples=s,
                        note="aiohttp column: python -c 'import aiohttp'"))
    if "ttft" in results:
        s = results["ttft"]
        m = med(s)
        gap = m["worker"] - m["aiohttp"] if "aiohttp" in m and "worker" in m else None
        met = (m.get("openai") is None or below(m.get("worker"), m["openai"] + 1e-9)) and (gap is None or gap <= 0.3)
        rows.append(Row("ttft", "time to first token (instant server)", "ms", m,
                        target="≤ openai SDK; ≤ aiohttp + 0.3 ms", met=met, ratio_sdk=ratio(m.get("openai"), m.get("worker")),
                        ratio_floor=ratio(m.get("worker"), m.get("aiohttp")), samples=s,
                        note="" if gap is None else f"worker − aiohttp = {gap:+.2f} ms"))
    for key in ("throughput", "throughput_other"):
        if key not in results:
            continue
        s = results[key]
        m = med(s)
        r_sdk = ratio(m.get("openai"), m.get("worker"))
        r_floor = ratio(m.get("worker"), m.get("aiohttp"))
        met = (r_sdk is None or r_sdk >= 8) and (r_floor is None or r_floor <= 1.3)
        mode = results[key + "_mode"]
        note = (f"server alone (raw socket reading the whole answer, no parsing): {results[key + '_server_floor_ms']:.2f} ms; "
                f"the server's own write time {results[key + '_server_send_ms']:.2f} ms")
        how = "one write per event" if mode == "each" else "whole answer in one write"
        rows.append(Row(key, f"{cfg.deltas:,} deltas ({how}), end to end until the final result", "ms", m,
                        target="≥8× faster than SDK; ≤1.3× aiohttp", met=met, ratio_sdk=r_sdk, ratio_floor=r_floor,
                        samples=s, note=note))
    if "concurrency" in results:
        c = results["concurrency"]
        get = lambda key: {k: v.get(key) for k, v in c.items()}  # noqa: E731
        tp = get("throughput")
        rows.append(Row("c256_throughput", f"{cfg.streams} concurrent streams × {cfg.c_instant} deltas, instant: throughput",
                        "deltas/s", tp, ratio_sdk=ratio(tp.get("worker"), tp.get("openai")),
                        ratio_floor=ratio(tp.get("worker"), tp.get("aiohttp")),
                        note="higher is better; ratios here are worker ÷ other"))
        for p in ("p50", "p99"):
            lat = get(f"latency_{p}")
            steady = get(f"steady_{p}")
            rows.append(Row(f"c256_latency_{p}", f"{cfg.streams} streams at {1000 / cfg.interval:.0f} deltas/s each: added latency per delta, {p}",
                            "ms", lat, ratio_sdk=ratio(lat.get("openai"), lat.get("worker")),
                            ratio_floor=ratio(lat.get("worker"), lat.get("aiohttp")),
                            note="once all streams have started (deltas sent 0.5 s or more into the round): "
                            + ", ".join(f"{k} {fmt(v, 'ms')} ms" for k, v in steady.items())))
        for phase, label in (("paced", "paced"), ("instant", "instant burst")):
            peak = {k: (v / 1024 if v else None) for k, v in get(f"peak_rss_{phase}_kib").items()}
            rows.append(Row(f"c256_peak_rss_{phase}", f"{cfg.streams} streams, {label}: peak RSS of the worker (Python columns: the client process)",
                            "MB", peak, target="worker < 80 MB", met=below(peak.get("worker"), 80),
                            ratio_sdk=ratio(peak.get("openai"), peak.get("worker")),
                            ratio_floor=ratio(peak.get("worker"), peak.get("aiohttp"))))
    if "cancel" in results:
        s = results["cancel"]
        m = med(s)
        rows.append(Row("cancel", "cancel → upstream connection closed (at the server), p50", "ms", m,
                        target="< 10 ms", met=below(m.get("worker"), 10), ratio_sdk=ratio(m.get("openai"), m.get("worker")),
                        ratio_floor=ratio(m.get("worker"), m.get("aiohttp")), samples=s,
                        note="SDK: AsyncStream.close(); aiohttp: response.close()"))
    if "reconnect" in results:
        m = {key: median(values) for key, values in results["reconnect"].items()}
        only_worker = lambda key: {"worker": m[key]}  # noqa: E731
        rows.append(Row("reconnect", "kept-alive connection reset under a request → its answer", "ms", only_worker("recover_ms"),
                        target="< 100 ms", met=m["recover_ms"] < 100, samples={"worker": results["reconnect"]["recover_ms"]},
                        note="sent again, whole, on a new connection (not waiting for first_token_timeout_s)"))
        rows.append(Row("reconnect_cpu", "… worker CPU meanwhile", "ms", only_worker("recover_cpu_ms"),
                        target="< 100 ms", met=m["recover_cpu_ms"] < 100))
        wait = f"{cfg.reconnect_wait_ms / 1000:g} s"
        rows.append(Row("wait_reused_cpu", f"worker CPU while waiting {wait} for a first token, kept-alive connection", "ms",
                        only_worker("wait_reused_cpu_ms"), target="< 50 ms", met=m["wait_reused_cpu_ms"] < 50))
        rows.append(Row("wait_new_cpu", f"worker CPU while waiting {wait} for a first token, new connection", "ms",
                        only_worker("wait_new_cpu_ms"),
                        note="Foundation on Linux keeps waking up on a connection it had to wait to write to (README, known limits)"))
    if "memory" in results:
        mem = results["memory"]
        idle = {k: v["idle_rss_kib"] / 1024 for k, v in mem.items()}
        warm = {k: v["warm_rss_kib"] / 1024 for k, v in mem.items()}
        final = {k: v["final_rss_kib"] / 1024 for k, v in mem.items()}
        rows.append(Row("idle_rss", "idle RSS after start-up and one request", "MB", idle,
                        ratio_sdk=ratio(idle.get("openai"), idle.get("worker")),
                        ratio_floor=ratio(idle.get("worker"), idle.get("aiohttp"))))
        growth = final["worker"] - warm["worker"] if "worker" in final else None
        rows.append(Row("rss_after", f"RSS after {cfg.mem_requests:,} streamed requests", "MB", final,
                        target=f"no growth (≤ {cfg.mem_growth_mb:g} MB over RSS after the first {cfg.mem_warm:,})",
                        met=below(growth, cfg.mem_growth_mb + 1e-9), ratio_sdk=ratio(final.get("openai"), final.get("worker")),
                        ratio_floor=ratio(final.get("worker"), final.get("aiohttp")),
                        note="growth from request {0:,} to {1:,}: ".format(cfg.mem_warm, cfg.mem_requests)
                        + ", ".join(f"{k} {final[k] - warm[k]:+.1f} MB" for k in final)))
    return rows


# =====================================================================================================
# Main
# =====================================================================================================

def have_comparison_packages() -> bool:
    try:
        import aiohttp  # noqa: F401
        import openai  # noqa: F401
        return True
    except ImportError:
        return False


def bootstrap(args) -> bool:
    """Makes sure the comparison packages are importable, re-running under the venv if needed.

    Returns whether the openai/aiohttp columns can be measured."""
    if args.worker_only:
        return False
    if have_comparison_packages():
        return True
    if os.environ.get("CAAL_BENCH_REEXEC"):
        log("openai/aiohttp still not importable in the venv; measuring the worker column only")
        return False
    python = VENV / "bin" / "python"
    try:
        if not python.exists():
            log(f"creating a virtual environment for the comparison clients in {VENV.relative_to(ROOT)} (git-ignored)")
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        if subprocess.run([str(python), "-c", "import openai, aiohttp"], stderr=subprocess.DEVNULL).returncode != 0:
            log("pip-installing openai and aiohttp into it (the benchmark's comparison only; the product needs neither)")
            subprocess.run([str(python), "-m", "pip", "install", "--quiet", "openai", "aiohttp"], check=True)
    except (subprocess.CalledProcessError, OSError) as exc:
        log(f"could not install openai/aiohttp ({exc}); measuring the worker column only")
        return False
    env = dict(os.environ, CAAL_BENCH_REEXEC="1")
    os.execve(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]], env)
    return False  # not reached


def ensure_binary(cfg) -> Path:
    """The binary to measure: --binary as given, else the shipped build of the current sources."""
    if cfg.binary:
        return Path(cfg.binary)
    if not cfg.no_build or not DEFAULT_BINARY.exists():
        log("building the worker as it ships: swift build -c release --static-swift-stdlib "
            f"--scratch-path {BUILD_DIR.name} (a few minutes the first time, seconds after)")
        command = ["swift", "build", "-c", "release", "--scratch-path", str(BUILD_DIR), "--product", "caal-llm-worker"]
        if subprocess.run(command + ["--static-swift-stdlib"], cwd=ROOT, stdout=sys.stderr).returncode != 0:
            # The static link needs libcurl's development files (Tests/release/build-release.sh installs them).
            log("the static build failed; building with the shared Swift libraries instead (start-up is slower)")
            subprocess.run(command, cwd=ROOT, check=True, stdout=sys.stderr)
    if not DEFAULT_BINARY.exists():
        raise SystemExit(f"the build did not produce {DEFAULT_BINARY}")
    return DEFAULT_BINARY


def parse_args(argv: list[str]):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout (the table goes to stderr)")
    p.add_argument("--quick", action="store_true", help="fewer repeats and requests (a rough look in well under a minute)")
    p.add_argument("--only", default="", help="comma-separated scenarios: startup,ttft,throughput,concurrency,cancel,reconnect,memory")
    p.add_argument("--worker-only", action="store_true", help="skip the openai SDK and aiohttp columns")
    p.add_argument("--binary", default=None, help="measure this worker binary instead of building one")
    p.add_argument("--no-build", action="store_true", help="use the binary in .build-bench without running swift build")
    p.add_argument("--deltas", type=int, default=2000, help="deltas in the throughput scenario (default 2000)")
    p.add_argument("--delta-size", type=int, default=5, help="characters per delta (default 5, about one token)")
    p.add_argument("--mode", choices=["each", "burst"], default="each",
                   help="instant server: one write per event (default) or the whole answer in one write")
    p.add_argument("--streams", type=int, default=256, help="concurrent streams (default 256)")
    p.add_argument("--interval", type=float, default=20.0, help="ms between deltas of the paced concurrent streams (default 20)")
    p.add_argument("--mem-requests", type=int, default=10000, help="requests of the memory scenario (default 10000)")
    p.add_argument("--repeats", type=int, default=None, help="repeats of each timed scenario (default 25, 7 with --quick)")
    # internal
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--task", default=None, help=argparse.SUPPRESS)
    p.add_argument("--base-url", default=None, help=argparse.SUPPRESS)
    p.add_argument("--params", default="{}", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    r = args.repeats or (7 if args.quick else 25)
    args.warmup = 3 if args.quick else 5
    args.repeats_ttft = r * 2
    args.repeats_throughput = r
    args.repeats_cancel = r
    args.repeats_startup = r
    args.repeats_reconnect = 3 if args.quick else 7
    args.reconnect_wait_ms = 1000
    args.c_instant = 200
    args.c_paced = 50
    args.c_repeats = 1 if args.quick else 3
    if args.quick:
        args.mem_requests = min(args.mem_requests, 2000)
    args.mem_warm = max(1, args.mem_requests // 10)
    args.mem_growth_mb = 2.0
    return args


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


async def run_in_process(cfg, kinds: list[str], binary: Path, upstream: UpstreamProcess, results: dict[str, Any], only) -> None:
    sides = [make_side(kind, binary, upstream.base_url) for kind in kinds]
    failed = results["failed"]
    try:
        for side in sides:
            await side.start()
        if only("ttft"):
            log("time to first token")
            results["ttft"] = await scenario_ttft(sides, cfg, failed.setdefault("ttft", {}))
        if only("throughput"):
            # Two server behaviours: one write per event (a server generating tokens as fast as it can; the
            # issue's scenario) and the whole answer in one write (the server then costs ~1 ms: whatever time
            # is left is the client's own, which shows the server is not what limits the first row).
            for mode, key in ((cfg.mode, "throughput"), ("burst" if cfg.mode == "each" else "each", "throughput_other")):
                log(f"throughput: {cfg.deltas} deltas, server mode {mode}")
                results[key] = await scenario_throughput(sides, cfg, mode, failed.setdefault(key, {}))
                floor = []
                sends = []
                for _ in range(cfg.repeats_throughput):
                    tag = uuid.uuid4().hex[:12]
                    floor.append(await upstream.raw_read(make_spec(n=cfg.deltas, size=cfg.delta_size, mode=mode, tag=tag)))
                    record = await upstream.stats(tag)
                    sends.append(ms(record["t_last"] - record["t_first"]))
                results[key + "_mode"] = mode
                results[key + "_server_floor_ms"] = median(floor)
                results[key + "_server_send_ms"] = median(sends)
        if only("cancel"):
            log("cancel latency")
            results["cancel"] = await scenario_cancel(sides, cfg, upstream, failed.setdefault("cancel", {}))
        if only("reconnect"):
            log("dropped kept-alive connections, and the CPU a wait for the first token costs (worker only)")
            try:
                results["reconnect"] = await asyncio.wait_for(scenario_reconnect(sides[0], cfg), MEASURE_LIMIT_S)
            except Exception as exc:
                failed["reconnect"] = {"worker": failure_reason(exc)}
    finally:
        for side in sides:
            await side.close()


def main(argv: list[str]) -> None:
    cfg = parse_args(argv)
    if cfg.serve:
        serve(cfg.port)
        return
    if cfg.child:
        child_main(cfg.child, cfg.task, Path(cfg.binary or DEFAULT_BINARY), cfg.base_url, json.loads(cfg.params))
        return

    comparisons = bootstrap(cfg)
    binary = ensure_binary(cfg)
    kinds = ["worker", "openai", "aiohttp"] if comparisons else ["worker"]
    selected = {s for s in cfg.only.split(",") if s}
    only = lambda name: not selected or name in selected  # noqa: E731
    started = time.monotonic()
    meta = {"cores": os.cpu_count(), "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "python": platform.python_version(), "commit": git_commit(), "platform": platform.platform(),
            "binary": str(binary)}
    results: dict[str, Any] = {"failed": {}}

    if only("startup"):
        log("start-up")
        try:
            results["startup"] = measure_startup(binary, sys.executable if comparisons else None, cfg.repeats_startup, cfg.warmup)
        except Exception as exc:
            results["failed"]["startup"] = {"all": failure_reason(exc)}
    upstream = UpstreamProcess()
    try:
        asyncio.run(run_in_process(cfg, kinds, binary, upstream, results, only))
        if only("concurrency"):
            results["concurrency"] = {}
            params = {"streams": cfg.streams, "n_instant": cfg.c_instant, "n_paced": cfg.c_paced, "interval": cfg.interval,
                      "repeats": cfg.c_repeats}
            for kind in kinds:
                log(f"{cfg.streams} concurrent streams: {kind}")
                measure_child(results, "concurrency", kind, binary, upstream.base_url, params)
        if only("memory"):
            results["memory"] = {}
            params = {"requests": cfg.mem_requests, "concurrency": 8, "warm": cfg.mem_warm}
            for kind in kinds:
                log(f"memory over {cfg.mem_requests} requests: {kind}")
                measure_child(results, "memory", kind, binary, upstream.base_url, params)
    finally:
        upstream.close()

    meta["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    meta["elapsed_s"] = time.monotonic() - started
    rows = build_rows(results, cfg)
    table = render(rows, meta)
    if cfg.json:
        print(table, file=sys.stderr)
        print(json.dumps({"meta": meta, "rows": [row.as_dict() for row in rows], "raw": results}, indent=2))
    else:
        print(table)


if __name__ == "__main__":
    main(sys.argv[1:])
