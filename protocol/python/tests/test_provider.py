"""WorkerProvider: CAAL settings mapping (pure) and the provider interface over the mock provider."""

from __future__ import annotations

import asyncio
import json
import os
import unittest
from unittest import mock

from caal_llm_worker import WorkerProvider, create_provider_from_settings
from caal_llm_worker.provider import GROQ_BASE_URL, USING_CAAL_TYPES, LLMResponse, TokenUsage, ToolCall

from .support import WorkerTestCase

NO_KEYS = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENROUTER_API_KEY", "GROQ_API_KEY")}


class SettingsMappingTests(unittest.TestCase):
    """create_provider_from_settings mirrors CAAL's keys, defaults and env fallbacks (nothing is spawned)."""

    def test_openai_compatible_defaults(self) -> None:
        with mock.patch.dict(os.environ, NO_KEYS, clear=True):
            provider = create_provider_from_settings({"llm_provider": "openai_compatible"})
        self.assertIsInstance(provider, WorkerProvider)
        self.assertEqual(provider.provider_name, "openai_compatible")
        self.assertEqual(provider.model, "gpt-3.5-turbo")
        self.assertEqual(provider.base_url, "http://localhost:8000/v1")
        self.assertEqual(provider.temperature, 0.7)
        config = provider._worker_config
        self.assertEqual(config["provider"], "openai_compatible")
        self.assertEqual(config["base_url"], "http://localhost:8000/v1")
        self.assertEqual(config["model"], "gpt-3.5-turbo")
        self.assertEqual(config["temperature"], 0.7)
        self.assertEqual(config["max_tokens"], 4096)
        self.assertNotIn("api_key", config)  # no key: no Authorization header

    def test_openai_compatible_settings_and_env_key(self) -> None:
        settings = {
            "llm_provider": "openai_compatible",
            "openai_base_url": "http://vllm.local:8000/v1/",
            "openai_model": "mistral",
            "temperature": 0.2,
        }
        with mock.patch.dict(os.environ, {**NO_KEYS, "OPENAI_API_KEY": "sk-env"}, clear=True):
            provider = create_provider_from_settings(settings)
        self.assertEqual(provider.model, "mistral")
        self.assertEqual(provider.base_url, "http://vllm.local:8000/v1")
        self.assertEqual(provider._worker_config["api_key"], "sk-env")
        self.assertEqual(provider.temperature, 0.2)
        with mock.patch.dict(os.environ, {**NO_KEYS, "OPENAI_API_KEY": "sk-env"}, clear=True):
            provider = create_provider_from_settings({**settings, "openai_api_key": "sk-settings"})
        self.assertEqual(provider._worker_config["api_key"], "sk-settings")

    def test_openrouter(self) -> None:
        with mock.patch.dict(os.environ, NO_KEYS, clear=True):
            with self.assertRaises(ValueError) as ctx:
                create_provider_from_settings({"llm_provider": "openrouter"})
            self.assertIn("openrouter_api_key", str(ctx.exception))
            provider = create_provider_from_settings({"llm_provider": "openrouter", "openrouter_api_key": "sk-or"})
        self.assertEqual(provider.provider_name, "openrouter")
        self.assertEqual(provider.model, "openai/gpt-4")
        self.assertEqual(provider.temperature, 0.7)
        self.assertEqual(provider._worker_config["api_key"], "sk-or")
        self.assertNotIn("base_url", provider._worker_config)  # the worker's OpenRouter default
        with mock.patch.dict(os.environ, {**NO_KEYS, "OPENROUTER_API_KEY": "sk-or-env"}, clear=True):
            provider = create_provider_from_settings(
                {"llm_provider": "OpenRouter", "openrouter_model": "anthropic/claude-3.5-sonnet"}
            )
        self.assertEqual(provider.model, "anthropic/claude-3.5-sonnet")
        self.assertEqual(provider._worker_config["api_key"], "sk-or-env")

    def test_groq_maps_to_openai_compatible(self) -> None:
        with mock.patch.dict(os.environ, {**NO_KEYS, "GROQ_API_KEY": "gsk-env"}, clear=True):
            provider = create_provider_from_settings({"llm_provider": "groq"})
        self.assertEqual(provider.provider_name, "openai_compatible")
        self.assertEqual(provider.base_url, GROQ_BASE_URL)
        self.assertEqual(provider.base_url, "https://api.groq.com/openai/v1")
        self.assertEqual(provider.model, "llama-3.3-70b-versatile")
        self.assertEqual(provider._worker_config["api_key"], "gsk-env")
        provider = create_provider_from_settings(
            {"llm_provider": "groq", "groq_api_key": "gsk-s", "groq_model": "qwen/qwen3-32b", "temperature": 0.5}
        )
        self.assertEqual(provider.model, "qwen/qwen3-32b")
        self.assertEqual(provider._worker_config["api_key"], "gsk-s")
        self.assertEqual(provider.temperature, 0.5)
        with mock.patch.dict(os.environ, NO_KEYS, clear=True):
            with self.assertRaises(ValueError):
                create_provider_from_settings({"llm_provider": "groq"})

    def test_ollama_maps_to_its_openai_compatible_endpoint_with_a_warning(self) -> None:
        cases = [
            ({}, {}, "http://localhost:11434/v1", "qwen3:8b", 0.15),
            ({"llm_provider": "ollama", "ollama_host": "http://gpu-box:11434/", "ollama_model": "ministral-3:8b",
              "temperature": 0.3}, {}, "http://gpu-box:11434/v1", "ministral-3:8b", 0.3),
            ({"llm_provider": "Ollama"}, {"OLLAMA_HOST": "0.0.0.0:11434"}, "http://0.0.0.0:11434/v1", "qwen3:8b", 0.15),
            ({"llm_provider": "ollama", "ollama_host": "http://h:11434/v1"}, {}, "http://h:11434/v1", "qwen3:8b", 0.15),
        ]
        for settings, env, base_url, model, temperature in cases:
            with self.subTest(settings=settings, env=env):
                base_env = {k: v for k, v in NO_KEYS.items() if k != "OLLAMA_HOST"}
                with mock.patch.dict(os.environ, {**base_env, **env}, clear=True):
                    with self.assertLogs("caal_llm_worker.provider", "WARNING") as logs:
                        provider = create_provider_from_settings(settings)
                self.assertEqual(provider.provider_name, "openai_compatible")
                self.assertEqual(provider.base_url, base_url)
                self.assertEqual(provider.model, model)
                self.assertEqual(provider.temperature, temperature)
                self.assertNotIn("api_key", provider._worker_config)
                [warning] = logs.output
                for words in (base_url, "num_ctx", "think", "OLLAMA_CONTEXT_LENGTH", "PARAMETER num_ctx", "reasoning_effort"):
                    self.assertIn(words, warning)
        with self.assertLogs("caal_llm_worker.provider", "WARNING") as logs:
            create_provider_from_settings({"llm_provider": "ollama", "num_ctx": 16384, "think": True})
        self.assertIn("num_ctx (16384) and think (True)", logs.output[0])

    def test_ollama_in_the_constructor_takes_ollamas_host(self) -> None:
        with self.assertLogs("caal_llm_worker.provider", "WARNING"):
            provider = WorkerProvider(provider="ollama", model="qwen3:8b", base_url="http://gpu-box:11434")
        self.assertEqual(provider.provider_name, "openai_compatible")
        self.assertEqual(provider.base_url, "http://gpu-box:11434/v1")
        self.assertEqual(provider._worker_config["base_url"], "http://gpu-box:11434/v1")

    def test_unknown_provider(self) -> None:
        with self.assertRaises(ValueError):
            create_provider_from_settings({"llm_provider": "anthropic"})
        with self.assertRaises(ValueError):
            WorkerProvider(provider="anthropic", model="x")

    def test_constructor_like_caals_providers(self) -> None:
        provider = WorkerProvider("openai_compatible", "mistral", "http://h:1/v1", "k", 0.3, 256)
        self.assertEqual(
            provider._worker_config,
            {
                "provider": "openai_compatible",
                "model": "mistral",
                "base_url": "http://h:1/v1",
                "api_key": "k",
                "temperature": 0.3,
                "max_tokens": 256,
            },
        )
        with mock.patch.dict(os.environ, NO_KEYS, clear=True):
            with self.assertRaises(ValueError):
                WorkerProvider(provider="openrouter", model="openai/gpt-4")

    def test_tool_helpers_are_openai_format(self) -> None:
        provider = WorkerProvider(provider="mock")
        tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
        self.assertEqual(provider.prepare_tools(tools), tools)
        self.assertEqual(provider.parse_tool_arguments('{"a": 1}'), {"a": 1})
        self.assertEqual(provider.parse_tool_arguments({"a": 1}), {"a": 1})
        self.assertEqual(provider.parse_tool_arguments("not json"), {})
        self.assertEqual(provider.parse_tool_arguments(""), {})
        self.assertEqual(provider.parse_tool_arguments(None), {})
        self.assertEqual(
            provider.format_tool_result("22 degrees", "call_1", "get_weather"),
            {"role": "tool", "content": "22 degrees", "tool_call_id": "call_1", "name": "get_weather"},
        )
        message = provider.format_tool_call_message(None, [ToolCall(id="call_1", name="get_weather", arguments={"city": "Paris"})])
        self.assertEqual(message["role"], "assistant")
        self.assertEqual(message["content"], "")
        [call] = message["tool_calls"]
        self.assertEqual(call["id"], "call_1")
        self.assertEqual(call["type"], "function")
        self.assertEqual(call["function"]["name"], "get_weather")
        self.assertEqual(json.loads(call["function"]["arguments"]), {"city": "Paris"})

    def test_types_have_caals_fields(self) -> None:
        if not USING_CAAL_TYPES:
            self.assertEqual(list(ToolCall.__dataclass_fields__), ["id", "name", "arguments"])
            self.assertEqual(list(TokenUsage.__dataclass_fields__), ["prompt_tokens", "completion_tokens"])
            self.assertEqual(list(LLMResponse.__dataclass_fields__), ["content", "tool_calls", "usage"])
        self.assertFalse(WorkerProvider(provider="mock").supports_think)


class MockProviderTests(WorkerTestCase):
    """The provider interface end to end over the worker's mock provider (fast, no HTTP)."""

    async def test_chat_with_tool_call_and_usage(self) -> None:
        provider = self.make_provider(
            provider="mock",
            config={
                "mock": {
                    "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}],
                    "usage": {"prompt_tokens": 21, "completion_tokens": 4},
                }
            },
        )
        tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
        response = await provider.chat([{"role": "user", "content": "weather?"}], tools=tools)
        self.assertIsInstance(response, LLMResponse)
        [call] = response.tool_calls
        self.assertIsInstance(call, ToolCall)
        self.assertEqual(call.name, "get_weather")
        self.assertEqual(call.arguments, {"city": "Paris"})
        self.assertEqual(provider._last_usage, TokenUsage(prompt_tokens=21, completion_tokens=4))
        self.assertEqual(response.usage, provider._last_usage)
        self.assertEqual(provider.provider_name, "mock")
        self.assertEqual(provider.model, "mock-1")

    async def test_chat_stream_yields_content_only(self) -> None:
        provider = self.make_provider(
            provider="mock",
            config={"mock": {"text": "Spoken words only.", "reasoning": "Secret thoughts.", "chunk_chars": 3}},
        )
        pieces = [p async for p in provider.chat_stream([{"role": "user", "content": "hi"}])]
        self.assertEqual("".join(pieces), "Spoken words only.")
        self.assertTrue(all(isinstance(p, str) and p for p in pieces))
        self.assertIsNotNone(provider._last_usage)

    async def test_breaking_out_of_chat_stream_cancels(self) -> None:
        provider = self.make_provider(provider="mock", config={"mock": {"text": "word " * 500, "delay_ms": 20}})
        generator = provider.chat_stream([{"role": "user", "content": "hi"}])
        async for _ in generator:
            break
        await generator.aclose()
        # The worker may count a request for a moment after answering it, so a
        # single late reading of in_flight can be 1: wait for the first 0.
        in_flight = -1
        for _ in range(100):
            in_flight = (await provider.client.ping())["in_flight"]
            if in_flight == 0:
                break
            await asyncio.sleep(0.02)
        self.assertEqual(in_flight, 0)
        self.assertIsNone(provider._last_usage)

    async def test_errors_surface_as_typed_exceptions(self) -> None:
        from caal_llm_worker import RateLimitError

        provider = self.make_provider(
            provider="mock", config={"mock": {"error": {"kind": "rate_limited", "status": 429, "message": "slow"}}}
        )
        with self.assertRaises(RateLimitError):
            await provider.chat([{"role": "user", "content": "hi"}])
        with self.assertRaises(RateLimitError):
            async for _ in provider.chat_stream([{"role": "user", "content": "hi"}]):
                pass

    async def test_list_models_and_probe(self) -> None:
        provider = self.make_provider(provider="mock")
        models = await provider.list_models()
        self.assertIn("mock-1", [m["id"] for m in models])
        report = await provider.probe()
        self.assertTrue(report["ok"], report)

    async def test_shared_client_gets_the_providers_settings(self) -> None:
        client = self.make_client()
        provider = WorkerProvider(provider="mock", config={"mock": {"text": "from provider"}}, client=client)
        response = await provider.chat([{"role": "user", "content": "hi"}])
        self.assertEqual(response.content, "from provider")
        await provider.aclose()  # a shared client stays open
        self.assertTrue((await client.ping())["ok"])

    async def test_settings_dict_mock(self) -> None:
        provider = self.track(
            create_provider_from_settings({"llm_provider": "mock"}, worker_path=self.worker_path)
        )
        response = await provider.chat([{"role": "user", "content": "ping"}])
        self.assertEqual(response.content, "You said: ping")


if __name__ == "__main__":
    unittest.main()
