"""The worker is ready before the first turn: WorkerProvider starts it when built inside a running loop."""

from __future__ import annotations

import asyncio
import unittest

from caal_llm_worker import InvalidParamsError, WorkerNotFound, WorkerProvider

from .support import HTTPWorkerTestCase, WorkerTestCase, clean_env, worker_binary

USER = [{"role": "user", "content": "hi"}]


async def wait_until(condition, what: str, limit_s: float = 30.0) -> None:
    """Wait for an event, not for a duration: the limit only keeps a broken test from hanging."""
    for _ in range(int(limit_s / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"gave up waiting for {what}")


class BackgroundStartTests(WorkerTestCase):
    async def test_built_in_a_running_loop_it_starts_and_configures_its_worker(self) -> None:
        provider = self.make_provider(provider="mock", config={"mock": {"text": "ready"}})
        client = provider.client
        await wait_until(lambda: client.running and client.effective_config is not None, "the worker to start")
        self.assertEqual(client.effective_config["provider"], "mock")
        pid = client.pid
        response = await provider.chat(USER)
        self.assertEqual(response.content, "ready")
        self.assertEqual(client.pid, pid, "the first call used the worker started in the background")
        self.assertEqual(client.restarts, 0)

    async def test_a_missing_binary_is_raised_by_the_first_call_not_the_constructor(self) -> None:
        provider = WorkerProvider(provider="mock", worker_path="/nonexistent/caal-llm-worker")
        starting = provider._starting
        assert starting is not None
        await asyncio.wait({starting})
        with self.assertRaises(WorkerNotFound) as ctx:
            await provider.chat(USER)
        self.assertIn("/nonexistent/caal-llm-worker", str(ctx.exception))

    async def test_a_refused_configuration_is_raised_by_the_first_call(self) -> None:
        provider = self.make_provider(provider="openai_compatible", base_url="http://127.0.0.1:9/v1", temperature=5)
        starting = provider._starting
        assert starting is not None
        await asyncio.wait({starting})
        with self.assertRaises(InvalidParamsError) as ctx:
            await provider.chat(USER)
        self.assertEqual(ctx.exception.data.get("field"), "temperature")

    async def test_a_shared_client_is_left_to_its_owner(self) -> None:
        client = self.make_client()
        provider = WorkerProvider(provider="mock", client=client)
        self.assertIsNone(provider._starting)
        self.assertIsNone(client.pid)


class WarmTests(HTTPWorkerTestCase):
    async def test_client_warm_reports_the_connection(self) -> None:
        client = self.make_client(self.http_config())
        result = await client.warm()
        self.assertIs(result["ok"], True, result)
        self.assertIsInstance(result["ms"], (int, float))
        self.assertIn(result["reused"], (True, False, None))

    async def test_provider_warm_then_a_turn(self) -> None:
        provider = self.make_provider(
            provider="openai_compatible", model="mock-model", base_url=self.server.base_url, config={"max_retries": 0}
        )
        result = await provider.warm()
        self.assertIs(result["ok"], True, result)
        response = await provider.chat(USER)
        self.assertEqual(response.content, "echo: hi")

    async def test_provider_warm_never_raises(self) -> None:
        provider = WorkerProvider(provider="mock", worker_path="/nonexistent/caal-llm-worker")
        result = await provider.warm()
        self.assertIs(result["ok"], False)
        self.assertEqual(result["provider"], "mock")
        self.assertEqual(result["error"]["kind"], WorkerNotFound.default_kind)
        self.assertIn("/nonexistent/caal-llm-worker", result["error"]["message"])


class OutsideALoopTests(unittest.TestCase):
    def test_built_outside_a_loop_it_starts_on_the_first_call(self) -> None:
        path, problem = worker_binary()
        if path is None:
            self.fail(problem)
        provider = WorkerProvider(provider="mock", worker_path=path, worker_env=clean_env())
        self.assertIsNone(provider._starting)
        self.assertIsNone(provider.client.pid)

        async def use() -> str | None:
            try:
                return (await provider.chat(USER)).content
            finally:
                await provider.aclose()

        self.assertEqual(asyncio.run(use()), "You said: hi")


if __name__ == "__main__":
    unittest.main()
