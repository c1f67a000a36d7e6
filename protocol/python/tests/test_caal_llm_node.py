"""The streamed llm_node against CAAL's own, with CAAL's real code (runs only where CAAL is importable).

Each case runs three times against the same scripted server: CAAL's ``llm_node``
with CAAL's in-process OpenAI-compatible provider (the openai SDK), CAAL's
``llm_node`` with ``WorkerProvider``, and ``caal_llm_worker.llm_node`` with
``WorkerProvider``.  The tools run and their arguments, the ``_on_tool_status``
calls, the spoken text and the conversation the server receives must be the
same; ``_on_usage`` is compared between the two loops on the same provider
(CAAL's in-process provider records no usage, so its loop reports none).

The system python has no CAAL: ``test_caal_venv`` runs this module under a
venv with CAAL's dependencies.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
import unittest
from dataclasses import dataclass, field
from typing import Any

from caal_llm_worker.llm_node import llm_node as streamed_llm_node

from .mock_openai_server import Reply, ToolRounds
from .support import HTTPWorkerTestCase

try:
    CAAL = importlib.import_module("caal.llm.llm_node")
    from caal.llm.providers.openai_compatible_provider import OpenAICompatibleProvider
    from livekit.agents.llm import ChatContext
except ImportError as exc:  # the system python: test_caal_venv runs this module in CAAL's venv
    CAAL = None
    WHY_NOT = f"CAAL is not importable here ({exc}); test_caal_venv runs this module under CAAL's venv"
else:
    WHY_NOT = ""
    logging.getLogger("caal").setLevel(logging.CRITICAL)  # CAAL logs the scripted failures with tracebacks
    logging.getLogger("asyncio").setLevel(logging.ERROR)  # debug mode's notes on slow steps (importing the SDK)

SYSTEM = "You are a voice assistant."


class FakeAgent:
    """What CAAL's loop reads from its agent: tools as methods, the tool-status and usage callbacks."""

    def __init__(self, with_tools: bool = True) -> None:
        self.executed: list[tuple[str, dict[str, Any]]] = []
        self.tool_status: list[tuple[bool, list[str], list[dict[str, Any]]]] = []
        self.usage: list[Any] = []
        self._tools = [self.get_weather, self.get_time] if with_tools else []
        self._on_usage = self.usage.append

    def _on_tool_status(self, used: bool, names: list[str], params: list[dict[str, Any]]) -> Any:
        # Recorded as called: the loop keeps growing the lists it passed.
        self.tool_status.append((used, list(names), [dict(p) for p in params]))
        return asyncio.sleep(0)

    async def get_weather(self, city: str) -> dict[str, Any]:
        """Current weather for a city."""
        self.executed.append(("get_weather", {"city": city}))
        return {"city": city, "temp_c": 18, "sky": "sunny"}

    async def get_time(self, zone: str = "UTC") -> str:
        """Current time in a time zone."""
        self.executed.append(("get_time", {"zone": zone}))
        return f"It is 10:30 in {zone}."


def tool_call(name: str, arguments: dict[str, Any], call_id: str) -> Reply:
    return Reply(tool_calls=[{"id": call_id, "name": name, "arguments": arguments}])


@dataclass
class Run:
    spoken: str
    agent: FakeAgent
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def conversations(self) -> list[list[dict[str, Any]]]:
        return [body["messages"] for body in self.requests]

    @property
    def kinds(self) -> list[tuple[bool, str | None]]:
        """(streamed, tool_choice) of each request."""
        return [(bool(body.get("stream")), body.get("tool_choice")) for body in self.requests]


@unittest.skipIf(CAAL is None, WHY_NOT)
class SameAsCAALTests(HTTPWorkerTestCase):
    async def run_loop(self, which: str, rounds: list[Any], final: Any, with_tools: bool = True) -> Run:
        self.server.reset()
        self.server.responder = ToolRounds(rounds, final)
        agent = FakeAgent(with_tools)
        chat_ctx = ChatContext()
        chat_ctx.add_message(role="system", content=SYSTEM)
        chat_ctx.add_message(role="user", content="What's the weather in Paris, and the time there?")
        if which == "caal+sdk":
            provider: Any = OpenAICompatibleProvider(model="mock-model", base_url=self.server.base_url)
            loop = CAAL.llm_node
        else:
            provider = self.make_provider(
                provider="openai_compatible", model="mock-model", base_url=self.server.base_url, config={"max_retries": 0}
            )
            loop = CAAL.llm_node if which == "caal+worker" else streamed_llm_node
        try:
            chunks = [chunk async for chunk in loop(agent, chat_ctx, provider)]
        finally:
            if which == "caal+sdk":
                await provider._client.close()
        await asyncio.sleep(0)  # the tool-status tasks
        return Run("".join(chunks), agent, [request.body for request in self.server.chat_requests()])

    async def compare(self, rounds: list[Any], final: Any, with_tools: bool = True) -> dict[str, Run]:
        runs = {which: await self.run_loop(which, rounds, final, with_tools) for which in ("caal+sdk", "caal+worker", "ours")}
        caal, via_worker, ours = runs["caal+sdk"], runs["caal+worker"], runs["ours"]
        for other in (via_worker, ours):
            self.assertEqual(other.agent.executed, caal.agent.executed, "tools run and their arguments")
            self.assertEqual(other.agent.tool_status, caal.agent.tool_status, "_on_tool_status calls")
            self.assertEqual(other.conversations, caal.conversations, "what the server was sent")
        self.assertEqual(ours.agent.usage, via_worker.agent.usage, "_on_usage calls on the same provider")
        self.assertEqual(caal.agent.usage, [])
        return runs

    def assert_spoken(self, runs: dict[str, Run], text: str) -> None:
        self.assertEqual({which: run.spoken for which, run in runs.items()}, dict.fromkeys(runs, text))

    async def test_direct_answer_with_tools_offered(self) -> None:
        runs = await self.compare(
            [Reply(text="It is a fine day for a walk in Paris.", reasoning="Nothing to look up.")], Reply(text="unused")
        )
        self.assert_spoken(runs, "It is a fine day for a walk in Paris.")
        self.assertEqual(runs["ours"].kinds, [(True, "auto")])
        self.assertEqual(runs["ours"].agent.tool_status, [], "CAAL keeps the indicator as it was")
        self.assertEqual(len(runs["ours"].agent.usage), 1)

    async def test_markdown_is_stripped(self) -> None:
        runs = await self.compare([Reply(text="The **Eiffel Tower** is `330` m tall.", chunk_chars=0)], Reply(text="x"))
        self.assert_spoken(runs, "The Eiffel Tower is 330 m tall.")

    async def test_one_tool_round_then_the_answer(self) -> None:
        runs = await self.compare(
            [tool_call("get_weather", {"city": "Paris"}, "call_w"), Reply(text="It is 18 degrees and sunny in Paris.")],
            Reply(text="unused"),
        )
        self.assert_spoken(runs, "It is 18 degrees and sunny in Paris.")
        self.assertEqual(runs["caal+sdk"].kinds, [(False, "auto"), (False, "auto")])
        self.assertEqual(runs["ours"].kinds, [(True, "auto"), (True, "auto")], "every round streamed, tools offered")
        self.assertEqual(runs["ours"].agent.executed, [("get_weather", {"city": "Paris"})])
        self.assertEqual(runs["ours"].agent.tool_status, [(True, ["get_weather"], [{"city": "Paris"}])])

    async def test_two_chained_rounds(self) -> None:
        runs = await self.compare(
            [
                tool_call("get_weather", {"city": "Paris"}, "call_w"),
                tool_call("get_time", {"zone": "Europe/Paris"}, "call_t"),
                Reply(text="Sunny, 18 degrees, and it is half past ten."),
            ],
            Reply(text="unused"),
        )
        self.assert_spoken(runs, "Sunny, 18 degrees, and it is half past ten.")
        self.assertEqual(
            runs["ours"].agent.tool_status,
            [
                (True, ["get_weather"], [{"city": "Paris"}]),
                (True, ["get_weather", "get_time"], [{"city": "Paris"}, {"zone": "Europe/Paris"}]),
            ],
        )

    async def test_no_tools(self) -> None:
        runs = await self.compare([], Reply(text="Hello there, how can I help?"), with_tools=False)
        self.assert_spoken(runs, "Hello there, how can I help?")
        self.assertEqual(runs["ours"].agent.tool_status, [(False, [], [])])

    async def test_a_tool_that_is_not_found(self) -> None:
        runs = await self.compare(
            [tool_call("get_stock_price", {"symbol": "ACME"}, "call_s"), Reply(text="I cannot look up stocks.")],
            Reply(text="unused"),
        )
        self.assert_spoken(runs, "I cannot look up stocks.")
        self.assertEqual(runs["ours"].agent.executed, [])
        tool_result = runs["ours"].conversations[1][-1]
        self.assertEqual(tool_result["role"], "tool")
        self.assertIn("get_stock_price not found", tool_result["content"])

    async def test_an_upstream_error(self) -> None:
        runs = await self.compare([Reply.error(400, "Invalid request: the model is overloaded with nonsense")], Reply(text="x"))
        self.assertEqual(runs["ours"].spoken, runs["caal+worker"].spoken)
        for run in runs.values():
            self.assertTrue(run.spoken.startswith("I encountered an error: "), run.spoken)
            self.assertIn("the model is overloaded with nonsense", run.spoken)

    async def test_the_server_rejects_a_tool_call_as_not_found(self) -> None:
        runs = await self.compare([Reply.error(404, "tool 'get_wether' not found")], Reply(text="Here is what I know."))
        self.assert_spoken(runs, "Here is what I know.")
        self.assertEqual(runs["ours"].agent.tool_status, [(False, [], [])])

    async def test_a_garbled_tool_call_is_retried_once(self) -> None:
        garbled = Reply.error(400, "Failed to call a function. Please adjust your prompt.", code="tool_use_failed")
        runs = await self.compare([[garbled, Reply(text="Second time lucky.")]], Reply(text="unused"))
        self.assert_spoken(runs, "Second time lucky.")
        self.assertEqual(len(runs["ours"].conversations), 2)

    async def test_an_empty_answer_after_tools_is_streamed_again_without_them(self) -> None:
        runs = await self.compare(
            [tool_call("get_weather", {"city": "Paris"}, "call_w"), Reply(text="")], Reply(text="Sunny in Paris.")
        )
        self.assert_spoken(runs, "Sunny in Paris.")
        self.assertEqual(runs["ours"].kinds, [(True, "auto"), (True, "auto"), (True, "none")])

    async def test_at_most_five_tool_rounds(self) -> None:
        runs = await self.compare([tool_call("get_time", {"zone": "UTC"}, "call_t")], Reply(text="Enough looking."))
        self.assert_spoken(runs, "Enough looking.")
        self.assertEqual(len(runs["ours"].agent.executed), 5)

    async def test_text_before_a_tool_call_is_spoken(self) -> None:
        # The one difference by design: CAAL's loop drops the preamble from speech; the history is the same.
        preamble = Reply(text="Let me check the weather.", tool_calls=[{"id": "call_w", "name": "get_weather", "arguments": {"city": "Paris"}}])
        runs = await self.compare([preamble, Reply(text="It is sunny.")], Reply(text="unused"))
        self.assertEqual(runs["caal+sdk"].spoken, "It is sunny.")
        self.assertEqual(runs["caal+worker"].spoken, "It is sunny.")
        self.assertEqual(runs["ours"].spoken, "Let me check the weather. It is sunny.")
        self.assertEqual(runs["ours"].conversations[1][-2]["content"], "Let me check the weather.")

    async def test_the_first_chunk_comes_before_the_answer_is_complete(self) -> None:
        rest = threading.Event()
        self.server.responder = ToolRounds([Reply(text="First words, then the rest.", chunk_chars=6, hold=rest)], Reply(text="x"))
        provider = self.make_provider(provider="openai_compatible", model="mock-model", base_url=self.server.base_url)
        chat_ctx = ChatContext()
        chat_ctx.add_message(role="user", content="Say something.")
        chunks = streamed_llm_node(FakeAgent(), chat_ctx, provider)
        first = await asyncio.wait_for(chunks.__anext__(), 30)  # the server sends nothing more until `rest`
        self.assertEqual(first, "First ")
        rest.set()
        self.assertEqual(first + "".join([chunk async for chunk in chunks]), "First words, then the rest.")


if __name__ == "__main__":
    unittest.main()
