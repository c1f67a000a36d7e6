"""Shared test plumbing: locating the worker binary, async test cases, the mock server.

Tests that need the worker FAIL (never skip) when the binary is missing: a
green run must mean the client was really exercised against the real binary.
"""

from __future__ import annotations

import logging
import os
import unittest
from pathlib import Path
from typing import Any

from caal_llm_worker import WorkerClient, WorkerProvider

from .mock_openai_server import MockOpenAIServer

REPO_ROOT = Path(__file__).resolve().parents[3]
DEBUG_BUILD = REPO_ROOT / ".build" / "debug" / "caal-llm-worker"

# The worker's stderr is forwarded to logging; keep it out of the test output
# unless asked for (CAAL_LLM_TEST_LOGS=1).
if not os.environ.get("CAAL_LLM_TEST_LOGS"):
    logging.getLogger("caal_llm_worker").addHandler(logging.NullHandler())
    logging.getLogger("caal_llm_worker").propagate = False


def worker_binary() -> tuple[str | None, str]:
    """(path, problem): the binary the tests run, from CAAL_LLM_WORKER or the repo's debug build."""
    env_value = os.environ.get("CAAL_LLM_WORKER")
    if env_value:
        path = Path(env_value)
        if path.is_file() and os.access(path, os.X_OK):
            return str(path), ""
        return None, f"CAAL_LLM_WORKER={env_value!r} is not an executable file"
    if DEBUG_BUILD.is_file() and os.access(DEBUG_BUILD, os.X_OK):
        return str(DEBUG_BUILD), ""
    return None, (
        f"the worker binary was not found at {DEBUG_BUILD}: run `swift build` in {REPO_ROOT} "
        "(or set CAAL_LLM_WORKER to the binary) before running these tests"
    )


def clean_env() -> dict[str, str]:
    """Our environment without API keys, so the worker's env-key fallback cannot leak into a test."""
    return {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENROUTER_API_KEY")}


class WorkerTestCase(unittest.IsolatedAsyncioTestCase):
    """A test that runs the real worker binary; every client it makes is closed afterwards."""

    worker_path: str

    def setUp(self) -> None:
        path, problem = worker_binary()
        if path is None:
            self.fail(problem)
        self.worker_path = path
        self._clients: list[WorkerClient] = []

    async def asyncTearDown(self) -> None:
        for client in self._clients:
            await client.close(timeout=5.0)

    def make_client(self, config: dict[str, Any] | None = None, **kwargs: Any) -> WorkerClient:
        kwargs.setdefault("env", clean_env())
        client = WorkerClient(self.worker_path, config=config, **kwargs)
        self._clients.append(client)
        return client

    def make_provider(self, *args: Any, **kwargs: Any) -> WorkerProvider:
        kwargs.setdefault("worker_path", self.worker_path)
        kwargs.setdefault("worker_env", clean_env())
        provider = WorkerProvider(*args, **kwargs)
        self._clients.append(provider.client)
        return provider

    def track(self, provider: WorkerProvider) -> WorkerProvider:
        self._clients.append(provider.client)
        return provider


class HTTPWorkerTestCase(WorkerTestCase):
    """A worker test with a mock OpenAI-compatible server, shared by the class, reset per test."""

    server: MockOpenAIServer

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.server = MockOpenAIServer().start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()
        super().tearDownClass()

    def setUp(self) -> None:
        super().setUp()
        self.server.reset()

    def http_config(self, **overrides: Any) -> dict[str, Any]:
        config: dict[str, Any] = {
            "provider": "openai_compatible",
            "base_url": self.server.base_url,
            "model": "mock-model",
            "max_retries": 0,
        }
        config.update(overrides)
        return config
