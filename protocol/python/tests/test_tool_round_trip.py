"""WorkerClient.assistant_message: a ChatResult becomes the assistant message to append, tool calls included."""

from __future__ import annotations

import json
import unittest

from caal_llm_worker import WorkerClient

from .mock_openai_server import Reply
from .support import HTTPWorkerTestCase
from .test_http_provider import WEATHER_TOOL


class AssistantMessageTests(unittest.TestCase):
    def test_tool_calls_in_the_wire_shape_with_the_models_own_arguments(self) -> None:
        result = {
            "content": None,
            "tool_calls": [
                {"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}, "arguments_raw": '{"city": "Paris"}'},
                {"id": "call_b", "name": "get_time", "arguments": {}, "arguments_raw": '{"zone": "CET"'},
                {"id": "", "name": "ping", "arguments": {"n": 1}},
            ],
        }
        self.assertEqual(
            WorkerClient.assistant_message(result),
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
                    {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
                    {"id": "call_2", "type": "function", "function": {"name": "ping", "arguments": '{"n": 1}'}},
                ],
            },
        )

    def test_an_answer_without_tool_calls(self) -> None:
        self.assertEqual(
            WorkerClient.assistant_message({"content": "It is sunny.", "tool_calls": []}),
            {"role": "assistant", "content": "It is sunny."},
        )


class RoundTripTests(HTTPWorkerTestCase):
    async def test_the_message_goes_back_through_the_worker_unchanged(self) -> None:
        self.server.add(
            Reply(text="Checking.", tool_calls=[{"id": "call_9", "name": "get_weather", "arguments": {"city": "Oslo"}}]),
            Reply(text="It is cold in Oslo."),
        )
        client = self.make_client(self.http_config())
        messages = [{"role": "user", "content": "Weather in Oslo?"}]
        first = await client.chat(messages, tools=[WEATHER_TOOL], tool_choice="auto")
        messages.append(WorkerClient.assistant_message(first))
        messages.append({"role": "tool", "tool_call_id": "call_9", "name": "get_weather", "content": '{"temp_c": -3}'})
        second = await client.chat(messages, tools=[WEATHER_TOOL], tool_choice="auto")
        self.assertEqual(second["content"], "It is cold in Oslo.")
        sent = self.server.chat_requests()[1].body["messages"]
        self.assertEqual(sent[1]["role"], "assistant")
        self.assertEqual(sent[1]["content"], "Checking.")
        [call] = sent[1]["tool_calls"]
        self.assertEqual((call["id"], call["type"], call["function"]["name"]), ("call_9", "function", "get_weather"))
        self.assertEqual(json.loads(call["function"]["arguments"]), {"city": "Oslo"})
        self.assertEqual(sent[2]["tool_call_id"], "call_9")


if __name__ == "__main__":
    unittest.main()
