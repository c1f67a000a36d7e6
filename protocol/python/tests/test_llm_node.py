"""caal_llm_worker.llm_node without CAAL: the clear error, and the loop's own decisions over stand-in helpers.

CAAL's real helpers need CAAL's dependencies; test_caal_llm_node compares the
loop with CAAL's own where they are installed.  Here a small stand-in for
``caal.llm.llm_node`` (recording, not reimplementing, CAAL's helpers) lets the
system python check what is this loop's alone: barge-in, text spoken around
tool calls, the fallbacks after a failed round, and the hand-over of CAAL's
own providers to CAAL's own loop.
"""

from __future__ import annotations

import asyncio
import sys
import types
import unittest
from typing import Any
from unittest import mock

from caal_llm_worker.llm_node import llm_node

from .mock_openai_server import Reply, ToolRounds
from .support import HTTPWorkerTestCase
from .test_http_provider import WEATHER_TOOL

USER = [{"role": "user", "content": "Weather in Paris?"}]
NO_CAAL = {"caal": None, "caal.llm": None, "caal.llm.llm_node": None}


class Agent:
    def __init__(self, tools: list[dict[str, Any]] | None) -> None:
        self.tools = tools
        self.executed: list[tuple[str, dict[str, Any], str | None]] = []
        self.usage: list[Any] = []


def stand_in_caal() -> types.ModuleType:
    """A ``caal.llm.llm_node`` whose helpers record what the loop asks of them."""
    caal = types.ModuleType("caal.llm.llm_node")

    def build_messages(chat_ctx: Any, **_: Any) -> list[dict[str, Any]]:
        return list(chat_ctx)

    async def discover_tools(agent: Agent, provider: Any) -> Any:
        return agent.tools

    async def execute_tool_calls(agent: Agent, messages: list, tool_calls: list, content: Any, provider: Any, **_: Any) -> list:
        messages.append(provider.format_tool_call_message(content=content, tool_calls=tool_calls))
        for call in tool_calls:
            agent.executed.append((call.name, call.arguments, content))
            messages.append(provider.format_tool_result(content="18 degrees", tool_call_id=call.id, tool_name=call.name))
        return messages

    async def caals_own_loop(agent: Any, chat_ctx: Any, provider: Any, *rest: Any) -> Any:
        yield f"CAAL's own loop for {type(provider).__name__}"

    caal._build_messages_from_context = build_messages
    caal._discover_tools = discover_tools
    caal._execute_tool_calls = execute_tool_calls
    caal._emit_usage = lambda agent, provider: agent.usage.append(provider._last_usage)
    caal._strip_tool_messages = lambda messages: [m for m in messages if m.get("role") != "tool"]
    caal.strip_markdown_for_tts = lambda text: text.replace("*", "")
    caal.llm_node = caals_own_loop
    return caal


class WithoutCAALTests(unittest.IsolatedAsyncioTestCase):
    async def test_without_caal_the_error_says_so(self) -> None:
        with mock.patch.dict(sys.modules, NO_CAAL):
            with self.assertRaises(ImportError) as ctx:
                async for _ in llm_node(Agent(None), USER, provider=object()):
                    pass
        self.assertIn("caal.llm.llm_node could not be imported", str(ctx.exception))
        self.assertIn("CAAL's src directory", str(ctx.exception))


class LoopTests(HTTPWorkerTestCase):
    def setUp(self) -> None:
        super().setUp()
        patcher = mock.patch.dict(sys.modules, {"caal.llm.llm_node": stand_in_caal()})
        patcher.start()
        self.addCleanup(patcher.stop)
        self.provider = self.make_provider(
            provider="openai_compatible", model="mock-model", base_url=self.server.base_url, config={"max_retries": 0}
        )

    async def speak(self, agent: Agent, rounds: list[Any], final: Any) -> str:
        self.server.responder = ToolRounds(rounds, final)
        return "".join([chunk async for chunk in llm_node(agent, USER, self.provider)])

    def kinds(self) -> list[tuple[bool, Any]]:
        return [(bool(r.body.get("stream")), r.body.get("tool_choice")) for r in self.server.chat_requests()]

    async def test_text_around_a_tool_call_is_spoken_and_kept_apart(self) -> None:
        call = {"id": "call_w", "name": "get_weather", "arguments": {"city": "Paris"}}
        agent = Agent([WEATHER_TOOL])
        spoken = await self.speak(
            agent, [Reply(text="Let me **check**.", reasoning="hmm", tool_calls=[call]), Reply(text="It is 18 degrees.")], Reply()
        )
        self.assertEqual(spoken, "Let me check. It is 18 degrees.")
        self.assertEqual(agent.executed, [("get_weather", {"city": "Paris"}, "Let me **check**.")])
        self.assertEqual(self.kinds(), [(True, "auto"), (True, "auto")])
        self.assertEqual(len(agent.usage), 1)

    async def test_leaving_the_loop_stops_the_request_upstream(self) -> None:
        self.server.responder = ToolRounds([Reply(text="word " * 300, chunk_chars=5, delay_s=0.03)], Reply())
        chunks = llm_node(Agent([WEATHER_TOOL]), USER, self.provider)
        self.assertEqual(await asyncio.wait_for(chunks.__anext__(), 30), "word ")
        await chunks.aclose()  # barge-in
        record = await asyncio.to_thread(self.server.wait_for_disconnect, 20.0)
        self.assertIsNotNone(record, "the server never saw the request stop")

    async def test_a_garbled_call_after_a_tool_round_falls_back_to_the_final_stream(self) -> None:
        call = {"id": "call_w", "name": "get_weather", "arguments": {"city": "Paris"}}
        garbled = Reply.error(400, "Failed to call a function. Please adjust your prompt.")
        agent = Agent([WEATHER_TOOL])
        spoken = await self.speak(agent, [Reply(tool_calls=[call]), garbled], Reply(text="It is sunny."))
        self.assertEqual(spoken, "It is sunny.")
        self.assertEqual(self.kinds(), [(True, "auto"), (True, "auto"), (True, "none")])

    async def test_a_failed_retry_falls_back_to_a_stream_without_tools(self) -> None:
        garbled = Reply.error(400, "Failed to call a function. Please adjust your prompt.")
        spoken = await self.speak(Agent([WEATHER_TOOL]), [garbled], Reply(text="Plain answer."))
        self.assertEqual(spoken, "Plain answer.")
        self.assertEqual(self.kinds(), [(True, "auto"), (True, "auto"), (True, None)])

    async def test_the_error_sentence_is_spoken_as_caal_says_it(self) -> None:
        spoken = await self.speak(Agent([WEATHER_TOOL]), [Reply.error(400, "bad *max_tokens* value")], Reply())
        self.assertEqual(spoken, "I encountered an error: The server rejected the request (HTTP 400): bad *max_tokens* value.")

    async def test_caals_own_providers_run_caals_own_loop(self) -> None:
        spoken = "".join([chunk async for chunk in llm_node(Agent(None), USER, object())])
        self.assertEqual(spoken, "CAAL's own loop for object")


if __name__ == "__main__":
    unittest.main()
