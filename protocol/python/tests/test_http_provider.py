"""End to end: WorkerProvider/WorkerClient → worker (openai_compatible) → mock OpenAI server."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

from caal_llm_worker import (
    AuthError,
    BadRequestError,
    ContextLengthError,
    NotFoundError,
    RateLimitError,
    UpstreamError,
    WorkerConnectionError,
    WorkerProvider,
    WorkerTimeoutError,
    create_provider_from_settings,
)
from caal_llm_worker.provider import LLMResponse, TokenUsage, ToolCall

from .mock_openai_server import RecordedRequest, Reply
from .support import HTTPWorkerTestCase

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


class CAALFlowTests(HTTPWorkerTestCase):
    def provider(self, **kwargs: Any) -> WorkerProvider:
        kwargs.setdefault("config", {"max_retries": 0})
        return self.make_provider(
            provider="openai_compatible", model="mock-model", base_url=self.server.base_url, **kwargs
        )

    async def test_full_caal_flow(self) -> None:
        """chat with tools → tool call as a dict → tool result → chat → chat_stream text."""
        self.server.add(
            Reply(
                tool_calls=[{"id": "call_abc", "name": "get_weather", "arguments": {"city": "Paris"}}],
                usage={"prompt_tokens": 50, "completion_tokens": 12},
            ),
            Reply(text="It is sunny in Paris.", usage={"prompt_tokens": 80, "completion_tokens": 7}),
            # 50 ms apart: the worker forwards events as they come but merges those that arrive together, which
            # on a busy machine could be all of them if the server sent them at once.
            Reply(text="It is sunny in Paris, 22 degrees.", chunk_chars=5, delay_s=0.05,
                  usage={"prompt_tokens": 81, "completion_tokens": 9}),
        )
        provider = self.provider()
        tools = provider.prepare_tools([WEATHER_TOOL])
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": "You are a voice assistant."},
            {"role": "user", "content": "What's the weather in Paris?"},
        ]

        # Round 1: the model asks for a tool.
        response = await provider.chat(messages, tools=tools)
        self.assertIsInstance(response, LLMResponse)
        self.assertEqual(len(response.tool_calls), 1)
        call = response.tool_calls[0]
        self.assertIsInstance(call, ToolCall)
        self.assertEqual((call.id, call.name), ("call_abc", "get_weather"))
        self.assertEqual(call.arguments, {"city": "Paris"})
        self.assertIsInstance(call.arguments, dict)
        self.assertEqual(provider._last_usage, TokenUsage(prompt_tokens=50, completion_tokens=12))

        # CAAL executes the tool and appends the two messages.
        messages.append(provider.format_tool_call_message(response.content, response.tool_calls))
        messages.append(provider.format_tool_result("Sunny, 22 degrees", call.id, call.name))

        # Round 2: the model answers with text.
        response = await provider.chat(messages, tools=tools)
        self.assertEqual(response.content, "It is sunny in Paris.")
        self.assertEqual(response.tool_calls, [])
        self.assertEqual(provider._last_usage, TokenUsage(prompt_tokens=80, completion_tokens=7))

        # The spoken answer streams.
        pieces = [p async for p in provider.chat_stream(messages, tools=tools)]
        self.assertEqual("".join(pieces), "It is sunny in Paris, 22 degrees.")
        self.assertGreater(len(pieces), 1)
        self.assertEqual(provider._last_usage, TokenUsage(prompt_tokens=81, completion_tokens=9))

        # What the server saw.
        first, second, third = (r.body for r in self.server.chat_requests())
        self.assertEqual(first["model"], "mock-model")
        self.assertEqual(first["tools"], [WEATHER_TOOL])
        self.assertEqual(first["tool_choice"], "auto")
        self.assertFalse(first.get("stream", False))
        self.assertEqual(first["temperature"], 0.7)
        self.assertEqual(first["max_tokens"], 4096)
        assistant, tool_result = second["messages"][2], second["messages"][3]
        self.assertEqual(assistant["role"], "assistant")
        self.assertEqual(assistant["tool_calls"][0]["id"], "call_abc")
        self.assertIsInstance(assistant["tool_calls"][0]["function"]["arguments"], str)
        self.assertEqual(json.loads(assistant["tool_calls"][0]["function"]["arguments"]), {"city": "Paris"})
        self.assertEqual(
            tool_result,
            {"role": "tool", "content": "Sunny, 22 degrees", "tool_call_id": "call_abc", "name": "get_weather"},
        )
        self.assertEqual(second["tool_choice"], "auto")
        self.assertTrue(third["stream"])
        self.assertEqual(third["tool_choice"], "none")
        self.assertEqual(third["tools"], [WEATHER_TOOL])
        self.assertEqual(len(third["messages"]), 4)

    async def test_no_tools_no_tool_choice_and_no_auth_header_without_key(self) -> None:
        provider = self.provider()
        response = await provider.chat([{"role": "user", "content": "hi"}])
        self.assertEqual(response.content, "echo: hi")
        pieces = [p async for p in provider.chat_stream([{"role": "user", "content": "yo"}])]
        self.assertEqual("".join(pieces), "echo: yo")
        for request in self.server.chat_requests():
            self.assertNotIn("tool_choice", request.body)
            self.assertNotIn("tools", request.body)
            self.assertNotIn("authorization", request.headers)

    async def test_api_key_is_sent_as_bearer(self) -> None:
        provider = self.provider(api_key="sk-test-123")
        await provider.chat([{"role": "user", "content": "hi"}])
        [request] = self.server.chat_requests()
        self.assertEqual(request.headers.get("authorization"), "Bearer sk-test-123")

    async def test_reasoning_never_reaches_chat_stream(self) -> None:
        self.server.add(Reply(text="Answer.", reasoning="hidden chain of thought"))
        provider = self.provider()
        pieces = [p async for p in provider.chat_stream([{"role": "user", "content": "q"}])]
        self.assertEqual("".join(pieces), "Answer.")

    async def test_client_stream_result_and_usage(self) -> None:
        self.server.add(Reply(text="Hello world", usage={"prompt_tokens": 3, "completion_tokens": 2}))
        client = self.make_client(self.http_config())
        stream = client.chat_stream([{"role": "user", "content": "hi"}])
        text = "".join([d.get("content", "") async for d in stream])
        self.assertEqual(text, "Hello world")
        self.assertEqual(stream.result["content"], "Hello world")
        self.assertEqual(stream.result["provider"], "openai_compatible")
        self.assertEqual(stream.result["usage"]["prompt_tokens"], 3)
        self.assertEqual(stream.result["usage"]["completion_tokens"], 2)
        self.assertEqual(stream.result["finish_reason"], "stop")

    async def test_list_models_and_probe_over_http(self) -> None:
        client = self.make_client(self.http_config())
        models = await client.list_models()
        self.assertEqual([m["id"] for m in models["models"]], ["mock-model", "mock-model-2"])
        report = await client.probe()
        self.assertTrue(report["ok"], report)
        self.assertEqual(report["checks"]["models"]["count"], 2)


class SettingsOverHTTPTests(HTTPWorkerTestCase):
    async def test_settings_dict_drives_the_worker(self) -> None:
        settings = {
            "llm_provider": "openai_compatible",
            "openai_base_url": self.server.base_url,
            "openai_model": "mock-model-2",
            "openai_api_key": "sk-from-settings",
            "temperature": 0.25,
        }
        provider = self.track(create_provider_from_settings(settings, worker_path=self.worker_path))
        response = await provider.chat([{"role": "user", "content": "hello"}])
        self.assertEqual(response.content, "echo: hello")
        self.assertEqual(provider.provider_name, "openai_compatible")
        self.assertEqual(provider.model, "mock-model-2")
        [request] = self.server.chat_requests()
        self.assertEqual(request.body["model"], "mock-model-2")
        self.assertEqual(request.body["temperature"], 0.25)
        self.assertEqual(request.headers.get("authorization"), "Bearer sk-from-settings")

    async def test_caals_default_settings_reach_ollamas_openai_endpoint(self) -> None:
        host = self.server.base_url.removesuffix("/v1")
        settings = {"llm_provider": "ollama", "ollama_host": host, "ollama_model": "mock-model", "num_ctx": 8192, "think": False}
        with self.assertLogs("caal_llm_worker.provider", "WARNING"):
            provider = self.track(create_provider_from_settings(settings, worker_path=self.worker_path))
        pieces = [piece async for piece in provider.chat_stream([{"role": "user", "content": "hello"}])]
        self.assertEqual("".join(pieces), "echo: hello")
        [request] = self.server.chat_requests()
        self.assertEqual(request.path, "/v1/chat/completions")
        self.assertEqual((request.body["model"], request.body["temperature"]), ("mock-model", 0.15))
        self.assertNotIn("authorization", request.headers)


class HTTPErrorTests(HTTPWorkerTestCase):
    """Each upstream status becomes the right exception (retries off: max_retries 0)."""

    CASES: list[tuple[str, Reply, type, dict[str, Any]]] = [
        ("401", Reply.error(401, "Incorrect API key provided", type="invalid_request_error", code="invalid_api_key"), AuthError, {"status": 401, "kind": "auth"}),
        ("404", Reply.error(404, "The model `nope` does not exist", code="model_not_found"), NotFoundError, {"status": 404, "kind": "not_found"}),
        ("429", Reply.error(429, "Rate limit reached", type="rate_limit_error", headers={"Retry-After": "7"}), RateLimitError, {"status": 429, "kind": "rate_limited", "retry_after_s": 7}),
        ("400 context", Reply.error(400, "This model's maximum context length is 4096 tokens. However, your messages resulted in 9000 tokens.", code="context_length_exceeded"), ContextLengthError, {"status": 400, "kind": "context_length"}),
        ("400", Reply.error(400, "Invalid value for 'temperature'"), BadRequestError, {"status": 400, "kind": "bad_request"}),
        ("500", Reply.error(500, "Internal server error", type="server_error"), UpstreamError, {"status": 500, "kind": "upstream_error"}),
        ("503", Reply.error(503, "Service unavailable", type="server_error"), UpstreamError, {"status": 503, "kind": "unavailable"}),
    ]

    def assert_error(self, exc: Exception, cls: type, expected: dict[str, Any]) -> None:
        self.assertIsInstance(exc, cls)
        for name, value in expected.items():
            self.assertEqual(getattr(exc, name), value, f"{name} of {exc!r}")
        self.assertEqual(exc.provider, "openai_compatible")  # type: ignore[attr-defined]

    async def test_chat_errors(self) -> None:
        provider = self.make_provider(
            provider="openai_compatible", model="mock-model", base_url=self.server.base_url, config={"max_retries": 0}
        )
        for name, reply, cls, expected in self.CASES:
            with self.subTest(status=name):
                self.server.add(reply)
                with self.assertRaises(cls) as ctx:
                    await provider.chat([{"role": "user", "content": "hi"}])
                self.assert_error(ctx.exception, cls, expected)
                self.assertTrue(ctx.exception.upstream_message, ctx.exception.data)
        self.assertEqual(len(self.server.chat_requests()), len(self.CASES), "max_retries 0 means one attempt each")

    async def test_stream_errors(self) -> None:
        client = self.make_client(self.http_config())
        for name, reply, cls, expected in self.CASES:
            with self.subTest(status=name):
                self.server.add(reply)
                stream = client.chat_stream([{"role": "user", "content": "hi"}])
                with self.assertRaises(cls) as ctx:
                    async for _ in stream:
                        pass
                self.assert_error(ctx.exception, cls, expected)
                self.assertIs(stream.error, ctx.exception)

    async def test_context_length_is_a_bad_request(self) -> None:
        self.server.add(self.CASES[3][1])
        client = self.make_client(self.http_config())
        with self.assertRaises(BadRequestError):
            await client.chat([{"role": "user", "content": "hi"}])

    async def test_connection_refused(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        client = self.make_client(self.http_config(base_url=f"http://127.0.0.1:{port}/v1"))
        with self.assertRaises(WorkerConnectionError) as ctx:
            await client.chat([{"role": "user", "content": "hi"}])
        self.assertEqual(ctx.exception.code, -32009)
        self.assertIsInstance(ctx.exception, ConnectionError)

    async def test_first_token_timeout(self) -> None:
        self.server.add(Reply(text="too late", first_delay_s=5))
        client = self.make_client(self.http_config(first_token_timeout_s=0.5))
        # A timeout error (not the late answer) shows the worker gave up before the server's 5 s.
        with self.assertRaises(WorkerTimeoutError) as ctx:
            async for _ in client.chat_stream([{"role": "user", "content": "hi"}]):
                pass
        self.assertEqual(ctx.exception.code, -32008)
        self.assertIsInstance(ctx.exception, TimeoutError)

    async def test_rate_limit_retried_by_the_worker_when_allowed(self) -> None:
        self.server.add(Reply.error(429, "Rate limit reached", headers={"Retry-After": "0"}), Reply(text="after retry"))
        client = self.make_client(self.http_config(max_retries=1))
        result = await client.chat([{"role": "user", "content": "hi"}])
        self.assertEqual(result["content"], "after retry")
        self.assertEqual(len(self.server.chat_requests()), 2)


class UpstreamCancelTests(HTTPWorkerTestCase):
    """Leaving a stream early closes the upstream connection (the mock server sees it)."""

    LONG = Reply(text="word " * 300, chunk_chars=5, delay_s=0.03)

    async def assert_upstream_closed(self) -> None:
        # The reply would take 9 s; a close seen before its end (checked below) is the cancel's.
        record = await asyncio.to_thread(self.server.wait_for_disconnect, 20.0)
        self.assertIsNotNone(record, "the mock server never saw the client close the stream")
        assert record is not None
        self.assertFalse(record.completed)
        self.assertLess(record.sent_events, record.planned_events)

    async def test_aclose(self) -> None:
        self.server.add(self.LONG)
        client = self.make_client(self.http_config())
        stream = client.chat_stream([{"role": "user", "content": "talk"}])
        count = 0
        async for _ in stream:
            count += 1
            if count == 3:
                break
        await stream.aclose()
        await self.assert_upstream_closed()

    async def test_breaking_out_of_the_providers_generator(self) -> None:
        self.server.add(self.LONG)
        provider = self.make_provider(
            provider="openai_compatible", model="mock-model", base_url=self.server.base_url, config={"max_retries": 0}
        )
        pieces = []
        async for piece in provider.chat_stream([{"role": "user", "content": "talk"}]):
            pieces.append(piece)
            if len(pieces) == 3:
                break  # the async generator is finalized right here (barge-in)
        await self.assert_upstream_closed()

    async def test_cancelling_the_consuming_task(self) -> None:
        self.server.add(self.LONG)
        provider = self.make_provider(
            provider="openai_compatible", model="mock-model", base_url=self.server.base_url, config={"max_retries": 0}
        )
        got_some = asyncio.Event()

        async def speak() -> None:
            async for _ in provider.chat_stream([{"role": "user", "content": "talk"}]):
                got_some.set()

        task = asyncio.create_task(speak())
        await asyncio.wait_for(got_some.wait(), 5)
        task.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await task
        await self.assert_upstream_closed()


class HTTPConcurrencyTests(HTTPWorkerTestCase):
    async def test_concurrent_http_streams_do_not_cross(self) -> None:
        def respond(request: RecordedRequest) -> Reply:
            user = request.body["messages"][-1]["content"]
            return Reply(text=f"answer to {user}: " + " ".join(f"{user}-{j}" for j in range(20)), chunk_chars=4)

        self.server.responder = respond
        client = self.make_client(self.http_config())

        async def run(i: int) -> tuple[str, str]:
            stream = client.chat_stream([{"role": "user", "content": f"q{i}"}])
            text = "".join([d.get("content", "") async for d in stream])
            return text, stream.result["content"]

        results = await asyncio.wait_for(asyncio.gather(*(run(i) for i in range(20))), 60)
        for i, (text, final) in enumerate(results):
            expected = f"answer to q{i}: " + " ".join(f"q{i}-{j}" for j in range(20))
            self.assertEqual(text, expected)
            self.assertEqual(final, expected)
