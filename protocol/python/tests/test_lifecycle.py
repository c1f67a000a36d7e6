"""Worker lifecycle: garbage collection, leaving the event loop, start-up, per-worker exit reports, CAAL types.

Every test here is a regression test for a lifecycle bug.  None depends on how
fast the machine is: waits are for events (a log line, a process being gone)
with bounds far larger than what they guard.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path
from typing import Any, Callable
from unittest import mock

from caal_llm_worker import InvalidParamsError, WorkerClient, WorkerCrashed, WorkerProvider, WorkerTimeoutError

from .support import WorkerTestCase, clean_env, worker_binary

MOCK = {"provider": "mock"}
USER = [{"role": "user", "content": "hello"}]
PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # protocol/python

# Far beyond anything these waits guard (a process exiting, a log line arriving).
GENEROUS = 60.0


def mock_extra(**fields: object) -> dict[str, object]:
    return {"mock": fields}


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # pragma: no cover - the pid was reused by someone else's process
        return True
    return False


async def wait_until(condition: Callable[[], bool], what: str, limit: float = GENEROUS) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting ({limit:g}s) for: {what}")
        await asyncio.sleep(0.02)


class _Records(logging.Handler):
    """Collects the records of one logger (whatever its propagation) and wakes waiters on each."""

    def __init__(self, logger_name: str) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.logger = logging.getLogger(logger_name)
        self._old_level = self.logger.level

    def __enter__(self) -> _Records:
        self.logger.addHandler(self)
        self.logger.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self)
        self.logger.setLevel(self._old_level)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self, min_level: int = logging.DEBUG) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno >= min_level]


def spy_on_spawns() -> tuple[Any, list[asyncio.subprocess.Process], asyncio.Event]:
    """Patch asyncio.create_subprocess_exec to record every worker process and signal each spawn."""
    real = asyncio.create_subprocess_exec
    procs: list[asyncio.subprocess.Process] = []
    spawned = asyncio.Event()

    async def spy(*args: Any, **kwargs: Any) -> asyncio.subprocess.Process:
        proc = await real(*args, **kwargs)
        procs.append(proc)
        spawned.set()
        return proc

    return mock.patch("asyncio.create_subprocess_exec", spy), procs, spawned


class GarbageCollectionTests(WorkerTestCase):
    """Finding 1: a provider (or client) nobody references any more must not leave its worker running."""

    async def test_dropped_providers_stop_their_workers(self) -> None:
        pids = []
        for _ in range(5):
            provider = WorkerProvider(provider="mock", worker_path=self.worker_path, worker_env=clean_env())
            response = await provider.chat([{"role": "user", "content": "hi"}])
            self.assertEqual(response.content, "You said: hi")
            pieces = [p async for p in provider.chat_stream([{"role": "user", "content": "again"}])]
            self.assertEqual("".join(pieces), "You said: again")
            pid = provider.client.pid
            assert pid is not None
            pids.append(pid)
            del provider, response
        gc.collect()
        await wait_until(lambda: all(process_gone(pid) for pid in pids), f"workers {pids} to exit")

    async def test_dropped_client_stops_its_worker(self) -> None:
        with _Records("caal_llm_worker.client") as logs:
            client = WorkerClient(self.worker_path, config=MOCK, env=clean_env())
            await client.ping()
            stream = client.chat_stream(USER, extra=mock_extra(text="one two three", chunk_chars=4))
            self.assertEqual("".join([d.get("content", "") async for d in stream]), "one two three")
            pid = client.pid
            assert pid is not None
            del client, stream
            gc.collect()
            await wait_until(lambda: process_gone(pid), f"worker {pid} to exit")
            await wait_until(lambda: any("garbage-collected" in m for m in logs.messages()), "the exit to be logged")
        self.assertEqual(logs.messages(logging.WARNING), [], "an exit we caused is not a crash")


class LeavingTheLoopTests(unittest.TestCase):
    """Finding 2: asyncio.run() ending without close() stops the worker cleanly, quickly and quietly."""

    SCRIPT = textwrap.dedent(
        """
        import asyncio, logging, os, sys
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="LOG %(levelname)s %(name)s %(message)s")
        from caal_llm_worker import WorkerClient

        kept = []

        async def main():
            client = WorkerClient(sys.argv[1], config={"provider": "mock"})
            if sys.argv[2] == "kept":
                kept.append(client)  # outlives the loop: asyncio.run cancels its tasks
            await client.ping()
            return client.pid  # no close()

        pid = asyncio.run(main())
        try:
            os.kill(pid, 0)
            print("worker alive")
        except ProcessLookupError:
            print("worker gone")
        """
    )

    def test_asyncio_run_without_close_is_clean(self) -> None:
        # "kept": the client outlives the loop, so the loop's teardown (which cancels the client's
        # tasks) must stop the worker; "dropped": the client is garbage when main() returns.
        for variant in ("kept", "dropped"):
            with self.subTest(variant=variant):
                self.check_asyncio_run(variant)

    def check_asyncio_run(self, variant: str) -> None:
        path, problem = worker_binary()
        if path is None:
            self.fail(problem)
        env = {**clean_env(), "PYTHONPATH": str(PACKAGE_ROOT)}
        done = subprocess.run(
            [sys.executable, "-X", "dev", "-W", "error::ResourceWarning", "-c", self.SCRIPT, path, variant],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        ours = [line for line in done.stderr.splitlines() if line.startswith("LOG ") and " caal_llm_worker." in line]
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout.strip(), "worker gone", "the worker was reaped before asyncio.run returned")
        self.assertFalse([l for l in ours if l.startswith(("LOG ERROR", "LOG WARNING"))], done.stderr)
        self.assertTrue([l for l in ours if "status 0" in l], f"the real exit status is reported:\n{done.stderr}")
        for symptom in ("Exception ignored", "ResourceWarning", "unclosed", "Event loop is closed", "was never retrieved"):
            self.assertNotIn(symptom, done.stderr)


def process_ended(pid: int) -> bool:
    """Gone, or a zombie waiting for a loop that no longer runs to reap it."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True
    except OSError:  # pragma: no cover - no /proc
        return process_gone(pid)


class StoppedLoopTests(unittest.TestCase):
    """A loop left without ending its tasks (run_until_complete, then a new loop): the next loop gets a new worker."""

    def test_a_new_loop_replaces_the_worker_of_a_stopped_one(self) -> None:
        path, problem = worker_binary()
        if path is None:
            self.fail(problem)
        client = WorkerClient(path, config=MOCK, env=clean_env())
        first, second = asyncio.new_event_loop(), asyncio.new_event_loop()
        try:
            with _Records("caal_llm_worker.client") as logs:
                first.run_until_complete(client.ping())  # left stopped, its reader task pending
                old_pid = client.pid
                assert old_pid is not None
                result = second.run_until_complete(client.chat(USER, extra=mock_extra(text="new loop")))
                self.assertEqual(result["content"], "new loop")
                self.assertNotIn(client.pid, (None, old_pid))
                second.run_until_complete(wait_until(lambda: process_ended(old_pid), f"worker {old_pid} to end"))
            self.assertTrue(any(f"worker {old_pid} stopped" in m for m in logs.messages(logging.WARNING)), logs.messages())
        finally:
            second.run_until_complete(client.close())
            second.close()
            leftovers = asyncio.all_tasks(first)  # what the program left behind, ended for a quiet test run
            for task in leftovers:
                task.cancel()
            first.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
            first.close()


class StartUpTests(WorkerTestCase):
    """Finding 4: cancelling a caller while the worker starts must not kill a healthy worker."""

    async def test_cancel_during_start_up_keeps_the_worker(self) -> None:
        client = self.make_client(MOCK)
        patch, procs, spawned = spy_on_spawns()
        with patch, _Records("caal_llm_worker.client") as logs:

            async def consume() -> None:
                async for _ in client.chat_stream(USER, extra=mock_extra(text="word " * 400, delay_ms=20)):
                    pass

            task = asyncio.create_task(consume())
            await asyncio.wait_for(spawned.wait(), GENEROUS)  # the worker exists; its configure is in flight
            task.cancel()  # barge-in on the very first turn
            with self.assertRaises(asyncio.CancelledError):
                await task
            result = await client.chat(USER, extra=mock_extra(text="still here"))
        self.assertEqual(result["content"], "still here")
        self.assertEqual(len(procs), 1, "no second worker was started")
        self.assertEqual(client.pid, procs[0].pid)
        self.assertIsNone(procs[0].returncode)
        self.assertEqual(client.restarts, 0)
        self.assertEqual(logs.messages(logging.WARNING), [])

    async def test_failed_start_up_leaves_a_clean_state(self) -> None:
        client = self.make_client({"provider": "mock", "temperature": 5})  # refused by configure
        patch, procs, _ = spy_on_spawns()
        with patch, _Records("caal_llm_worker.client") as logs:
            with self.assertRaises(InvalidParamsError):
                await client.ping()
            self.assertIsNone(client.pid)
            self.assertEqual(len(procs), 1)
            self.assertIsNotNone(procs[0].returncode, "the refused worker was stopped and reaped")
            with self.assertRaises(InvalidParamsError):  # the next call tries again, from scratch
                await client.ping()
            self.assertEqual(len(procs), 2)
            self.assertIsNotNone(procs[1].returncode)
        self.assertEqual(logs.messages(logging.ERROR), [], "a refused configuration is not a crash")


FAKE_WORKER = textwrap.dedent(
    """
    import json, os, sys, time
    pid = os.getpid()
    release = sys.argv[1]
    sys.stderr.write(f"fake worker {pid} started\\n"); sys.stderr.flush()
    for line in sys.stdin:
        message = json.loads(line)
        if message.get("method") == "die":
            sys.stderr.write(f"last words of {pid}\\n"); sys.stderr.flush()
            sys.stdout.flush()
            os.close(1)  # the client sees the end of stdout now, the exit only later
            while not os.path.exists(release):
                time.sleep(0.01)
            sys.exit(3)
        if "id" in message:
            answer = {"jsonrpc": "2.0", "id": message["id"], "result": {"ok": True, "version": "fake", "in_flight": 0}}
            sys.stdout.write(json.dumps(answer) + "\\n"); sys.stdout.flush()
    """
)


class PerWorkerExitTests(unittest.IsolatedAsyncioTestCase):
    """Finding 7: a worker's crash report is its own, even when a new worker started meanwhile."""

    async def test_crash_report_names_the_dying_worker(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "fake-worker"
            script.write_text(f"#!{sys.executable}\n" + FAKE_WORKER)
            script.chmod(0o755)
            release = Path(tmp) / "release"
            client = WorkerClient(script, args=[str(release)])
            try:
                with _Records("caal_llm_worker.worker") as stderr_lines:
                    await client.ping()
                    old_pid = client.pid
                    dying = asyncio.create_task(client.request("die"))
                    await wait_until(lambda: client.pid is None, "the client to see the old worker's stdout end")
                    await client.ping()  # a new worker starts while the old one is still exiting
                    new_pid = client.pid
                    self.assertNotEqual(new_pid, old_pid)
                    await wait_until(
                        lambda: any(f"fake worker {new_pid} started" in m for m in stderr_lines.messages()),
                        "the new worker's first stderr line",
                    )
                    release.touch()
                    with self.assertRaises(WorkerCrashed) as ctx:
                        await asyncio.wait_for(dying, GENEROUS)
                message = str(ctx.exception)
                self.assertIn(f"pid {old_pid}", message)
                self.assertIn(f"last words of {old_pid}", message)
                self.assertNotIn(str(new_pid), message)
                self.assertEqual(ctx.exception.data.get("pid"), old_pid)
            finally:
                release.touch()
                await client.close(timeout=10)


class StreamTimeoutTests(WorkerTestCase):
    """Minor finding: the provider's chat_stream honours timeout= instead of dropping it."""

    async def test_provider_chat_stream_timeout(self) -> None:
        provider = self.make_provider(provider="mock", config={"mock": {"first_token_delay_ms": 60_000}})
        with self.assertRaises(WorkerTimeoutError):
            async for _ in provider.chat_stream(USER, timeout=0.2):
                pass
        self.assertEqual(provider.client.in_flight, 0)
        # The worker was told to stop: it is idle again, long before the 60 s answer.
        in_flight = -1
        for _ in range(500):
            in_flight = (await provider.client.ping())["in_flight"]
            if in_flight == 0:
                break
            await asyncio.sleep(0.02)
        self.assertEqual(in_flight, 0)

    async def test_client_chat_stream_timeout_after_some_deltas(self) -> None:
        client = self.make_client(MOCK)
        stream = client.chat_stream(USER, extra=mock_extra(text="word " * 2000, delay_ms=20), timeout=0.5)
        received = 0
        with self.assertRaises(WorkerTimeoutError):
            async for _ in stream:
                received += 1
        self.assertIsInstance(stream.error, WorkerTimeoutError)
        self.assertLess(received, 2000)


CAAL_BASE = textwrap.dedent(
    """
    from abc import ABC, abstractmethod
    from dataclasses import dataclass, field
    from typing import Any, Optional

    @dataclass
    class ToolCall:
        id: str
        name: str
        arguments: dict

    @dataclass
    class TokenUsage:
        prompt_tokens: int
        completion_tokens: int

    @dataclass
    class LLMResponse:
        content: Optional[str]
        tool_calls: list = field(default_factory=list)
        usage: Optional[TokenUsage] = None

    class LLMProvider(ABC):
        @abstractmethod
        async def chat(self, messages, tools=None, **kwargs): ...

        @abstractmethod
        async def chat_stream(self, messages, tools=None, **kwargs): ...

        @abstractmethod
        def parse_tool_arguments(self, arguments): ...

        @property
        def supports_think(self) -> bool:
            return False
    """
)


class CaalTypesTests(unittest.TestCase):
    """Finding 3: CAAL's types are used when CAAL is there; only a missing CAAL falls back to local types."""

    def run_with_fake_caal(self, files: dict[str, str], script: str) -> subprocess.CompletedProcess[str]:
        path, problem = worker_binary()
        if path is None:
            self.fail(problem)
        with tempfile.TemporaryDirectory() as tmp:
            for name, text in files.items():
                target = Path(tmp) / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(textwrap.dedent(text))
            env = {**clean_env(), "PYTHONPATH": os.pathsep.join([tmp, str(PACKAGE_ROOT)]), "CAAL_LLM_WORKER": path}
            return subprocess.run(
                [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, env=env, timeout=120
            )

    def test_caal_types_when_caal_is_importable(self) -> None:
        done = self.run_with_fake_caal(
            {
                "caal/__init__.py": "",
                "caal/llm/__init__.py": "",
                "caal/llm/providers/__init__.py": "",
                "caal/llm/providers/base.py": CAAL_BASE,
            },
            """
            import asyncio
            from caal.llm.providers.base import LLMProvider, LLMResponse, TokenUsage
            from caal_llm_worker.provider import WorkerProvider, USING_CAAL_TYPES
            assert USING_CAAL_TYPES
            assert issubclass(WorkerProvider, LLMProvider)
            provider = WorkerProvider(provider="mock")
            assert isinstance(provider, LLMProvider)
            assert provider.supports_think is False
            response = asyncio.run(provider.chat([{"role": "user", "content": "hi"}]))
            assert type(response) is LLMResponse, type(response)
            assert type(response.usage) is TokenUsage, type(response.usage)
            print("ok")
            """,
        )
        self.assertEqual(done.stdout.strip(), "ok", done.stderr)

    def test_an_import_error_inside_caal_is_not_swallowed(self) -> None:
        done = self.run_with_fake_caal(
            {
                "caal/__init__.py": "",
                "caal/llm/__init__.py": "",
                "caal/llm/providers/__init__.py": "",
                "caal/llm/providers/base.py": "from caal.llm import name_that_does_not_exist\n" + CAAL_BASE,
            },
            """
            from caal_llm_worker.provider import WorkerProvider
            try:
                WorkerProvider(provider="mock")  # the first look-up of CAAL's types
            except ImportError as exc:
                print("raised:", exc)
            else:
                print("silently fell back to local types")
            """,
        )
        self.assertIn("raised:", done.stdout, done.stderr)
        self.assertIn("name_that_does_not_exist", done.stdout)

    def test_circular_import_from_caal_gets_caal_types(self) -> None:
        # CAAL's providers package imports the worker's factory; the worker needs CAAL's base module,
        # whose import needs a name the half-initialised providers package defines further down.
        done = self.run_with_fake_caal(
            {
                "caal/__init__.py": "",
                "caal/llm/__init__.py": "",
                "caal/llm/providers/__init__.py": """
                    from caal_llm_worker.provider import create_provider_from_settings
                    DEFAULT_TEMPERATURE = 0.7
                    from .base import LLMProvider, LLMResponse
                """,
                "caal/llm/providers/base.py": "from caal.llm.providers import DEFAULT_TEMPERATURE\n" + CAAL_BASE,
            },
            """
            import caal.llm.providers as providers
            provider = providers.create_provider_from_settings({"llm_provider": "mock"})
            assert isinstance(provider, providers.LLMProvider), type(provider).__mro__
            import caal_llm_worker.provider as worker_provider
            assert worker_provider.USING_CAAL_TYPES
            print("ok")
            """,
        )
        self.assertEqual(done.stdout.strip(), "ok", done.stderr)

    def test_no_caal_means_local_types(self) -> None:
        done = self.run_with_fake_caal(
            {},
            """
            from caal_llm_worker.provider import USING_CAAL_TYPES, WorkerProvider, LLMResponse
            assert not USING_CAAL_TYPES
            assert LLMResponse.__module__ == "caal_llm_worker.provider"
            assert WorkerProvider(provider="mock").supports_think is False
            print("ok")
            """,
        )
        self.assertEqual(done.stdout.strip(), "ok", done.stderr)


if __name__ == "__main__":
    unittest.main()
