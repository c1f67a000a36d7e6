"""WorkerProvider.chat_stream_with_tools: one streamed request with tools, text as it comes, tool calls at the end."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from caal_llm_worker.provider import LLMResponse, TokenUsage, ToolCall

from .mock_openai_server import Reply
from .support import HTTPWorkerTestCase
from .test_http_provider import WEATHER_TOOL

MESSAGES = [{"role": "user", "content": "Weather in Paris?"}]


class StreamedRoundTests(HTTPWorkerTestCase):
    def provider(self) -> Any:
        return self.make_provider(
            provider="openai_compatible", model="mock-model", base_url=self.server.base_url, config={"max_retries": 0}
        )

    async def test_text_then_tool_calls_from_the_final_result(self) -> None:
        self.server.add(
            Reply(
                text="Let me check.",
                reasoning="The user wants weather.",
                tool_calls=[{"id": "call_7", "name": "get_weather", "arguments": {"city": "Paris"}}],
                usage={"prompt_tokens": 30, "completion_tokens": 9},
                chunk_chars=4,
            )
        )
        provider = self.provider()
        reply = provider.chat_stream_with_tools(MESSAGES, [WEATHER_TOOL])
        pieces = [piece async for piece in reply]
        self.assertEqual("".join(pieces), "Let me check.")
        self.assertIsInstance(reply.response, LLMResponse)
        self.assertEqual(reply.response.content, "Let me check.")
        self.assertEqual(reply.response.tool_calls, [ToolCall(id="call_7", name="get_weather", arguments={"city": "Paris"})])
        self.assertEqual(provider._last_usage, TokenUsage(prompt_tokens=30, completion_tokens=9))
        [request] = self.server.chat_requests()
        self.assertTrue(request.body["stream"])
        self.assertEqual(request.body["tools"], [WEATHER_TOOL])
        self.assertEqual(request.body["tool_choice"], "auto")

    async def test_the_first_piece_comes_before_the_rest_is_sent(self) -> None:
        rest = threading.Event()
        self.server.add(Reply(text="First words, then the rest.", chunk_chars=6, hold=rest, hold_after=1))
        reply = self.provider().chat_stream_with_tools(MESSAGES, [WEATHER_TOOL])
        pieces = reply.__aiter__()
        first = await asyncio.wait_for(pieces.__anext__(), 30)  # the server sends nothing more until `rest`
        self.assertEqual(first, "First ")
        rest.set()
        self.assertEqual(first + "".join([piece async for piece in pieces]), "First words, then the rest.")
        self.assertEqual(reply.response.tool_calls, [])

    async def test_without_tools_no_tool_choice(self) -> None:
        reply = self.provider().chat_stream_with_tools([{"role": "user", "content": "hi"}])
        self.assertEqual("".join([piece async for piece in reply]), "echo: hi")
        [request] = self.server.chat_requests()
        self.assertNotIn("tools", request.body)
        self.assertNotIn("tool_choice", request.body)

    async def test_cancel_closes_the_upstream_stream(self) -> None:
        self.server.add(Reply(text="word " * 300, chunk_chars=5, delay_s=0.03))
        reply = self.provider().chat_stream_with_tools(MESSAGES, [WEATHER_TOOL])
        async for _ in reply:
            reply.cancel()
        record = await asyncio.to_thread(self.server.wait_for_disconnect, 20.0)
        self.assertIsNotNone(record, "the mock server never saw the client close the stream")
        self.assertIsNone(reply.response)

    async def test_an_upstream_error_is_raised_by_the_iteration(self) -> None:
        from caal_llm_worker import BadRequestError

        self.server.add(Reply.error(400, "Failed to call a function. Please adjust your prompt.", code="tool_use_failed"))
        reply = self.provider().chat_stream_with_tools(MESSAGES, [WEATHER_TOOL])
        with self.assertRaises(BadRequestError) as ctx:
            async for _ in reply:
                pass
        self.assertIn("Failed to call a function", str(ctx.exception))
