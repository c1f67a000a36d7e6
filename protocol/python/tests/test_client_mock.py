"""WorkerClient against the real binary, with the worker's ``mock`` provider (no HTTP)."""

from __future__ import annotations

import asyncio
import os
import signal
import time

from caal_llm_worker import (
    AuthError,
    BadRequestError,
    ContentBlockedError,
    ContextLengthError,
    InsufficientCreditsError,
    InvalidParamsError,
    NotConfiguredError,
    NotFoundError,
    RateLimitError,
    RequestCancelled,
    UpstreamError,
    WorkerClosed,
    WorkerConnectionError,
    WorkerCrashed,
    WorkerError,
    WorkerTimeoutError,
)

from .support import WorkerTestCase

MOCK = {"provider": "mock"}
USER = [{"role": "user", "content": "hello"}]


def mock_extra(**fields: object) -> dict[str, object]:
    return {"mock": fields}


class BasicsTests(WorkerTestCase):
    async def test_ping_and_lazy_start(self) -> None:
        client = self.make_client()
        self.assertIsNone(client.pid)
        result = await client.ping()
        self.assertEqual(result["ok"], True)
        self.assertIsInstance(result["version"], str)
        self.assertEqual(result["in_flight"], 0)
        self.assertIsNotNone(client.pid)

    async def test_configure_returns_redacted_effective_config(self) -> None:
        client = self.make_client()
        result = await client.configure(provider="mock", api_key="sk-secret-123", temperature=0.3)
        self.assertEqual(result["provider"], "mock")
        self.assertTrue(result["api_key_set"])
        self.assertEqual(result["api_key_source"], "configure")
        self.assertEqual(result["temperature"], 0.3)
        self.assertNotIn("sk-secret-123", repr(result))
        self.assertEqual(client.effective_config, result)

    async def test_chat(self) -> None:
        client = self.make_client(MOCK)
        result = await client.chat(USER, extra=mock_extra(text="Hi, I am the mock."))
        self.assertEqual(result["content"], "Hi, I am the mock.")
        self.assertEqual(result["provider"], "mock")
        self.assertEqual(result["finish_reason"], "stop")
        self.assertEqual(result["tool_calls"], [])
        self.assertIn("prompt_tokens", result["usage"])
        self.assertIn("total_ms", result["timing"])
        self.assertEqual(result["warnings"], [])

    async def test_chat_default_text_echoes_last_user_message(self) -> None:
        client = self.make_client(MOCK)
        result = await client.chat([{"role": "user", "content": "what time is it"}])
        self.assertEqual(result["content"], "You said: what time is it")

    async def test_chat_tool_calls(self) -> None:
        client = self.make_client(MOCK)
        result = await client.chat(
            USER,
            tools=[{"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}],
            extra=mock_extra(tool_calls=[{"name": "get_time", "arguments": {"tz": "Europe/Paris"}}]),
        )
        self.assertEqual(result["finish_reason"], "tool_calls")
        [call] = result["tool_calls"]
        self.assertEqual(call["name"], "get_time")
        self.assertEqual(call["arguments"], {"tz": "Europe/Paris"})
        self.assertIsInstance(call["arguments_raw"], str)
        self.assertTrue(call["id"])

    async def test_stream_deltas_then_result(self) -> None:
        client = self.make_client(MOCK)
        text = "The quick brown fox jumps over the lazy dog."
        stream = client.chat_stream(USER, extra=mock_extra(text=text, reasoning="Let me think.", chunk_chars=5))
        deltas = [delta async for delta in stream]
        self.assertEqual([d["index"] for d in deltas], list(range(len(deltas))))
        self.assertTrue(all(d["id"] == stream.id for d in deltas))
        self.assertEqual("".join(d.get("content", "") for d in deltas), text)
        self.assertEqual("".join(d.get("reasoning", "") for d in deltas), "Let me think.")
        self.assertIsNotNone(stream.result)
        self.assertEqual(stream.result["content"], text)
        self.assertEqual(stream.result["reasoning"], "Let me think.")
        self.assertTrue(stream.finished)
        self.assertIsNone(stream.error)
        # Iterating a finished stream again is simply empty.
        self.assertEqual([d async for d in stream], [])

    async def test_stream_get_result_and_text(self) -> None:
        client = self.make_client(MOCK)
        result = await client.chat_stream(USER, extra=mock_extra(text="abc def")).get_result()
        self.assertEqual(result["content"], "abc def")
        pieces = [p async for p in client.chat_stream(USER, extra=mock_extra(text="ghi jkl", reasoning="r")).text()]
        self.assertEqual("".join(pieces), "ghi jkl")

    async def test_list_models(self) -> None:
        client = self.make_client(MOCK)
        result = await client.list_models()
        self.assertEqual(result["provider"], "mock")
        self.assertIn("mock-1", [m["id"] for m in result["models"]])
        self.assertIn("cached", result)

    async def test_probe(self) -> None:
        client = self.make_client(MOCK)
        result = await client.probe()
        self.assertTrue(result["ok"], result)
        self.assertEqual(result["provider"], "mock")
        for check in ("models", "chat", "stream", "tools"):
            self.assertIn(check, result["checks"])
            self.assertTrue(result["checks"][check]["ok"], result["checks"][check])

    async def test_multi_megabyte_lines(self) -> None:
        # Results are single lines; asyncio's default 64 KiB limit would break here.
        client = self.make_client(MOCK)
        text = "x" * (3 * 1024 * 1024)
        stream = client.chat_stream(USER, extra=mock_extra(text=text, chunk_chars=0))
        deltas = [d async for d in stream]
        self.assertEqual("".join(d.get("content", "") for d in deltas), text)
        self.assertEqual(stream.result["content"], text)
        big_user = [{"role": "user", "content": "y" * (2 * 1024 * 1024)}]
        result = await client.chat(big_user)
        self.assertEqual(len(result["content"]), len("You said: ") + 2 * 1024 * 1024)

    async def test_invalid_params(self) -> None:
        client = self.make_client(MOCK)
        with self.assertRaises(InvalidParamsError) as ctx:
            await client.chat([])
        self.assertEqual(ctx.exception.code, -32602)
        self.assertEqual(ctx.exception.field, "messages")
        with self.assertRaises(InvalidParamsError) as ctx:
            await client.configure(temperature=5)
        self.assertIn("temperature", ctx.exception.message)
        # The client stays usable after errors.
        self.assertTrue((await client.ping())["ok"])

    async def test_oversized_request_is_refused_before_sending(self) -> None:
        client = self.make_client(MOCK, max_line_bytes=1024)
        with self.assertRaises(InvalidParamsError):
            await client.chat([{"role": "user", "content": "z" * 2048}])
        self.assertTrue((await client.ping())["ok"])

    async def test_not_configured(self) -> None:
        client = self.make_client()
        with self.assertRaises(NotConfiguredError) as ctx:
            await client.chat(USER)
        self.assertEqual(ctx.exception.code, -32010)

    async def test_worker_stderr_goes_to_logging(self) -> None:
        # assertLogs hooks the logger itself, so this works whatever its propagation.
        with self.assertLogs("caal_llm_worker.worker", level="DEBUG") as logs:
            client = self.make_client(MOCK, args=["--log-level", "debug"])
            await client.ping()
            await client.close()
        self.assertTrue(any("caal-llm-worker" in line for line in logs.output), logs.output)


class ErrorKindTests(WorkerTestCase):
    """Every provider error kind comes out as its own exception class."""

    CASES = [
        ("auth", 401, AuthError, -32001),
        ("rate_limited", 429, RateLimitError, -32002),
        ("insufficient_credits", 402, InsufficientCreditsError, -32003),
        ("content_blocked", 403, ContentBlockedError, -32004),
        ("not_found", 404, NotFoundError, -32005),
        ("bad_request", 400, BadRequestError, -32006),
        ("context_length", 400, ContextLengthError, -32006),
        ("upstream_error", 500, UpstreamError, -32007),
        ("unavailable", 503, UpstreamError, -32007),
        ("invalid_response", 200, UpstreamError, -32007),
        ("timeout", None, WorkerTimeoutError, -32008),
        ("connection", None, WorkerConnectionError, -32009),
    ]

    async def test_chat_errors(self) -> None:
        client = self.make_client(MOCK)
        for kind, status, cls, code in self.CASES:
            with self.subTest(kind=kind):
                error: dict[str, object] = {"kind": kind, "message": f"scripted {kind}"}
                if status is not None:
                    error["status"] = status
                with self.assertRaises(cls) as ctx:
                    await client.chat(USER, extra=mock_extra(error=error))
                exc = ctx.exception
                self.assertEqual(exc.kind, kind)
                self.assertEqual(exc.code, code)
                self.assertEqual(exc.status, status)
                self.assertEqual(exc.provider, "mock")
                self.assertIsInstance(exc.retryable, bool)

    async def test_stream_error_after_some_deltas_keeps_partial_content(self) -> None:
        client = self.make_client(MOCK)
        stream = client.chat_stream(
            USER,
            extra=mock_extra(
                text="one two three four five", chunk_chars=4, error={"kind": "upstream_error", "after_deltas": 2}
            ),
        )
        received: list[str] = []
        with self.assertRaises(UpstreamError) as ctx:
            async for delta in stream:
                received.append(delta.get("content", ""))
        self.assertEqual(received, ["one ", "two "])
        self.assertEqual(ctx.exception.partial_content, "one two ")
        self.assertIs(stream.error, ctx.exception)
        self.assertIsNone(stream.result)


class CancellationTests(WorkerTestCase):
    async def _wait_idle(self, client: object) -> int:
        in_flight = -1
        for _ in range(100):
            in_flight = (await client.ping())["in_flight"]  # type: ignore[attr-defined]
            if in_flight == 0:
                break
            await asyncio.sleep(0.02)
        return in_flight

    async def test_aclose_cancels_in_worker(self) -> None:
        client = self.make_client(MOCK)
        # 2,000 words 20 ms apart: the stream would run for 40 s; the cancel ends it long before (no tighter
        # clock bound: a busy machine must not fail the test).
        stream = client.chat_stream(USER, extra=mock_extra(text="word " * 2000, delay_ms=20))
        async for _ in stream:
            break
        self.assertGreaterEqual((await client.ping())["in_flight"], 1)
        started = time.monotonic()
        await stream.aclose()
        self.assertEqual(await self._wait_idle(client), 0)
        self.assertLess(time.monotonic() - started, 20.0)

    async def test_async_with_block_exit_cancels(self) -> None:
        client = self.make_client(MOCK)
        async with client.chat_stream(USER, extra=mock_extra(text="word " * 400, delay_ms=20)) as stream:
            async for _ in stream:
                break
        self.assertEqual(await self._wait_idle(client), 0)

    async def test_dropping_an_unfinished_stream_cancels(self) -> None:
        client = self.make_client(MOCK)
        async for _ in client.chat_stream(USER, extra=mock_extra(text="word " * 400, delay_ms=20)):
            break  # the stream object is garbage now; its finalizer cancels
        self.assertEqual(await self._wait_idle(client), 0)

    async def test_cancelling_the_consuming_task_cancels(self) -> None:
        client = self.make_client(MOCK)
        first = asyncio.Event()

        async def consume() -> None:
            async for _ in client.chat_stream(USER, extra=mock_extra(text="word " * 400, delay_ms=20)):
                first.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(first.wait(), 5)
        task.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await task
        self.assertEqual(await self._wait_idle(client), 0)

    async def test_cancelling_a_chat_call_cancels(self) -> None:
        client = self.make_client(MOCK)
        task = asyncio.create_task(client.chat(USER, extra=mock_extra(first_token_delay_ms=10_000)))
        for _ in range(100):
            if (await client.ping())["in_flight"] == 1:
                break
            await asyncio.sleep(0.01)
        task.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await task
        self.assertEqual(await self._wait_idle(client), 0)

    async def test_cancel_by_id_reports_partial_content(self) -> None:
        client = self.make_client(MOCK)
        stream = client.chat_stream(USER, extra=mock_extra(text="abcdefgh" * 100, chunk_chars=4, delay_ms=20))
        got = []
        with self.assertRaises(RequestCancelled) as ctx:
            async for delta in stream:
                got.append(delta["content"])
                if len(got) == 2:
                    self.assertTrue(await client.cancel(stream.id, wait=True))
        self.assertEqual(ctx.exception.code, -32800)
        self.assertTrue(ctx.exception.partial_content.startswith("abcdefgh"))
        self.assertFalse(await client.cancel(999_999, wait=True))

    async def test_client_side_timeout_cancels(self) -> None:
        client = self.make_client(MOCK)
        with self.assertRaises(WorkerTimeoutError):
            await client.chat(USER, extra=mock_extra(first_token_delay_ms=10_000), timeout=0.2)
        self.assertEqual(await self._wait_idle(client), 0)


class ConcurrencyTests(WorkerTestCase):
    async def test_50_concurrent_streams_do_not_cross(self) -> None:
        client = self.make_client(MOCK)
        await client.ping()
        texts = [f"Stream {i:02d} says " + " ".join(f"w{i}x{j}" for j in range(30)) for i in range(50)]

        async def run(i: int) -> tuple[str, dict[str, object], list[int]]:
            stream = client.chat_stream(USER, extra=mock_extra(text=texts[i], chunk_chars=3, delay_ms=1))
            pieces, indexes = [], []
            async for delta in stream:
                self.assertEqual(delta["id"], stream.id)
                pieces.append(delta.get("content", ""))
                indexes.append(delta["index"])
            assert stream.result is not None
            return "".join(pieces), stream.result, indexes

        results = await asyncio.wait_for(asyncio.gather(*(run(i) for i in range(50))), 60)
        for i, (joined, result, indexes) in enumerate(results):
            self.assertEqual(joined, texts[i])
            self.assertEqual(result["content"], texts[i])
            self.assertEqual(indexes, list(range(len(indexes))))
        self.assertEqual(client.in_flight, 0)

    async def test_slow_request_does_not_hold_up_others(self) -> None:
        client = self.make_client(MOCK)
        slow = asyncio.create_task(client.chat(USER, extra=mock_extra(first_token_delay_ms=60_000)))
        await asyncio.sleep(0.05)
        await client.ping()
        fast = await client.chat(USER, extra=mock_extra(text="fast"))
        self.assertEqual(fast["content"], "fast")
        self.assertFalse(slow.done(), "the fast answer came while the slow request still waited")
        slow.cancel()


class CrashTests(WorkerTestCase):
    async def test_killed_worker_fails_pending_fast_and_next_call_restarts_configured(self) -> None:
        client = self.make_client({"provider": "mock", "mock": {"text": "configured default text"}})
        await client.ping()
        first_pid = client.pid
        assert first_pid is not None

        streams = [client.chat_stream(USER, extra=mock_extra(text="slow " * 500, delay_ms=50)) for _ in range(5)]
        for stream in streams:
            await stream.start()
        chats = [
            asyncio.create_task(client.chat(USER, extra=mock_extra(first_token_delay_ms=30_000))) for _ in range(5)
        ]
        # Wait until every stream is really streaming.
        for stream in streams:
            await asyncio.wait_for(stream.__anext__(), 5)

        async def drain(stream: object) -> None:
            async for _ in stream:  # type: ignore[attr-defined]
                pass

        killed_at = time.monotonic()
        os.kill(first_pid, signal.SIGKILL)
        outcomes = await asyncio.wait_for(
            asyncio.gather(*chats, *(drain(s) for s in streams), return_exceptions=True), 20
        )
        elapsed = time.monotonic() - killed_at
        # The requests had 25 to 30 s to go: failing well before that is failing at once, without a clock
        # bound a busy machine could miss.
        self.assertLess(elapsed, 20.0, "pending calls must fail fast")
        for outcome in outcomes:
            self.assertIsInstance(outcome, WorkerCrashed)
            self.assertIn("exited", str(outcome))
        self.assertEqual(client.in_flight, 0)

        # The next call starts a fresh worker with the same configuration.
        result = await client.chat(USER)
        self.assertEqual(result["content"], "configured default text")
        self.assertNotEqual(client.pid, first_pid)
        self.assertEqual(client.restarts, 1)

    async def test_configuration_set_later_is_reapplied_after_crash(self) -> None:
        client = self.make_client()
        await client.configure(provider="mock", mock={"text": "first"}, temperature=0.5)
        await client.configure(mock={"text": "second"})
        pid = client.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            if client.pid is None:
                break
            await asyncio.sleep(0.01)
        result = await client.chat(USER)
        self.assertEqual(result["content"], "second")
        self.assertEqual(client.effective_config["temperature"], 0.5)

    async def test_close_while_the_worker_is_starting(self) -> None:
        client = self.make_client(MOCK)
        pending = asyncio.create_task(client.chat(USER, extra=mock_extra(first_token_delay_ms=30_000)))
        await asyncio.sleep(0)  # the task is now spawning the worker
        started = time.monotonic()
        await client.close(timeout=5)
        [outcome] = await asyncio.wait_for(asyncio.gather(pending, return_exceptions=True), 20)
        self.assertIsInstance(outcome, WorkerError)
        self.assertLess(time.monotonic() - started, 25, "close did not wait for the 30 s request")
        self.assertIsNone(client.pid)

    async def test_closed_client_refuses_calls_and_close_fails_pending(self) -> None:
        client = self.make_client(MOCK)
        pending = asyncio.create_task(client.chat(USER, extra=mock_extra(first_token_delay_ms=30_000)))
        await asyncio.sleep(0.1)
        await client.close(timeout=5)
        outcome = await asyncio.gather(pending, return_exceptions=True)
        self.assertIsInstance(outcome[0], (WorkerClosed, WorkerError))
        with self.assertRaises(WorkerClosed):
            await client.ping()
