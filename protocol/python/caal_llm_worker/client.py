"""Asyncio client for the ``caal-llm-worker`` process.

One :class:`WorkerClient` owns one worker process and talks JSON-RPC 2.0 to it,
one message per line over the process's stdin/stdout.  Many calls may be in
flight at once: a single reader task reads every line the worker writes and
routes it, responses by ``id`` to the waiting call, ``chatStream.delta``
notifications to the stream they belong to.

The client is built for a voice assistant, which shapes three choices:

* Barge-in must stop generation upstream.  Leaving a stream early (``aclose``,
  ``break`` out of an ``async with``/the provider's generator, or cancelling
  the task that consumes it) sends ``cancel`` for that request at once, without
  waiting for anything.
* A dead worker must not turn into a silent assistant.  When the process exits
  every pending call fails at once with :class:`WorkerCrashed`; the next call
  spawns a fresh worker and re-applies the configuration it had.
* Nothing the worker prints on stderr is lost: it goes to the logger
  ``caal_llm_worker.worker``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import weakref
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, Optional, cast

from ._worker import _read_loop, _release_worker, _retrieve, _Shared, _stderr_loop, _StreamState, _Worker
from .binary import find_worker_binary
from .errors import (
    InvalidParamsError,
    WorkerClosed,
    WorkerCrashed,
    WorkerError,
    WorkerTimeoutError,
)
from .results import (
    ChatResult,
    Configuration,
    ListModelsResult,
    PingResult,
    ProbeResult,
    ShutdownResult,
    StreamDelta,
    WarmResult,
)

__all__ = ["WorkerClient", "ChatStream", "DEFAULT_READ_LIMIT", "DEFAULT_MAX_LINE_BYTES"]

logger = logging.getLogger("caal_llm_worker.client")

#: Largest line the client will read from the worker.  A ChatResult with a long
#: answer, or a big model list, is one line: asyncio's 64 KiB default would
#: break on it, so the buffer limit is generous (it is a cap, not an allocation).
DEFAULT_READ_LIMIT = 1 << 30

#: The worker's own default ``--max-line-bytes``; requests bigger than this are
#: refused client-side because the worker would answer them with ``id: null``,
#: which no pending call could be matched with.
DEFAULT_MAX_LINE_BYTES = 32 * 1024 * 1024

class ChatStream:
    """An in-flight ``chatStream`` request: an async iterator of delta dicts.

    Each item is the ``params`` object of one ``chatStream.delta`` notification
    (``{"id", "index", "content"?, "reasoning"?, "tool_calls"?}``).  When the
    iteration ends normally, :attr:`result` holds the final ChatResult; when the
    request fails, the iteration raises the matching :class:`WorkerError` (and
    :attr:`error` keeps it).

    The request is sent on first iteration (or by :meth:`start` /
    ``async with``).  Leaving early cancels it upstream: :meth:`aclose`, the
    end of an ``async with`` block, cancelling the task that iterates, or the
    stream object being garbage-collected while still running.
    """

    def __init__(self, client: WorkerClient, params: dict[str, Any], timeout: float | None = None) -> None:
        self._client = client
        self._params = params
        self._timeout = timeout
        self._state = _StreamState()
        self._started = False
        self._sent = False
        self._closed = False
        self._done = False

    # -- public state -----------------------------------------------------
    @property
    def id(self) -> int | None:
        """The JSON-RPC id of the request, once it was sent."""
        return self._state.id

    @property
    def result(self) -> ChatResult | None:
        """The final ChatResult, once the stream has finished successfully."""
        return cast(Optional[ChatResult], self._state.result)

    @property
    def error(self) -> WorkerError | None:
        """The error that ended the stream, if it failed."""
        return self._state.error

    @property
    def finished(self) -> bool:
        """True once the worker's final response (result or error) has arrived."""
        return self._state.final

    # -- lifecycle ----------------------------------------------------------
    async def start(self) -> None:
        """Send the request now (idempotent); iteration does this implicitly."""
        if self._started:
            return
        self._started = True
        try:
            await self._client._start_stream(self)
        except asyncio.CancelledError:
            self._abort()
            raise
        except BaseException:
            self._closed = True
            raise

    def _mark_sent(self) -> None:
        self._sent = True

    def _abort(self) -> None:
        """Stop caring about this stream; tell the worker to stop it if it still runs."""
        if self._closed:
            return
        self._closed = True
        state = self._state
        if self._sent and not state.final and state.id is not None:
            self._client._shared.abandon_stream(state.id)

    def cancel(self) -> None:
        """Cancel the request if it is still running (synchronous: safe in ``finally``)."""
        self._abort()

    async def aclose(self) -> None:
        """Cancel the request if it is still running; never blocks on the worker."""
        self._abort()

    async def __aenter__(self) -> ChatStream:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._abort()

    def __del__(self) -> None:
        # Safety net for `async for ...: break` without aclose(): the stream is
        # unreachable, so nobody will read the rest; free the upstream.  (A
        # stream still referenced after `break` is not garbage: it keeps
        # running until aclose()/cancel() or until it is collected.)
        try:
            state = self._state
            if self._closed or not self._sent or state.final or state.id is None or state.worker is None:
                return
            self._closed = True
            loop = state.worker.loop
            if not loop.is_closed():
                loop.call_soon_threadsafe(self._client._shared.abandon_stream, state.id)
        except Exception:  # never raise from a finalizer
            pass

    # -- iteration ------------------------------------------------------------
    def __aiter__(self) -> ChatStream:
        return self

    async def __anext__(self) -> StreamDelta:
        if not self._started:
            await self.start()
        state = self._state
        while True:
            if state.deltas:
                return cast(StreamDelta, state.deltas.popleft())
            if state.final:
                if not self._done:
                    self._done = True
                    if state.error is not None:
                        raise state.error
                raise StopAsyncIteration
            if self._closed:
                raise StopAsyncIteration
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            state.waiter = waiter
            try:
                await waiter
            except asyncio.CancelledError:
                # The consuming task was cancelled (barge-in): stop upstream too.
                self._abort()
                raise
            finally:
                state.waiter = None

    async def get_result(self) -> ChatResult:
        """Consume whatever is left and return the final ChatResult (or raise its error)."""
        async for _ in self:
            pass
        if self._state.error is not None:
            raise self._state.error
        result = self.result
        if result is None:
            raise WorkerClosed(None, "the stream was closed before it finished", "closed")
        return result

    async def text(self) -> AsyncIterator[str]:
        """Only the non-empty ``content`` pieces, in order (what a TTS should hear).

        Leaving this generator early cancels the stream, like :meth:`aclose`.
        """
        try:
            async for delta in self:
                piece = delta.get("content")
                if piece:
                    yield piece
        finally:
            self._abort()


class WorkerClient:
    """Spawns the worker on first use and multiplexes calls to it.

    Args:
        worker_path: explicit path of the binary; otherwise
            :func:`~caal_llm_worker.binary.find_worker_binary` looks for it.
        args: extra command-line arguments for the worker (e.g.
            ``["--log-level", "debug"]``).
        env: environment of the worker process (default: inherit ours).
        config: a ``configure`` params object applied whenever a worker starts,
            as if :meth:`configure` had been called first.
        read_limit: largest line accepted from the worker.
        max_line_bytes: largest request line sent to the worker.
        close_timeout: how long :meth:`close` lets the worker finish before it
            is terminated.

    All methods must be used from one event loop at a time (the loop the worker
    was started in).  When that loop ends (``asyncio.run`` returning) the
    worker is stopped; the next call, from a new loop, starts a new one.  A
    client that is garbage-collected without :meth:`close` stops its worker too.
    """

    def __init__(
        self,
        worker_path: str | os.PathLike[str] | None = None,
        *,
        args: Iterable[str] = (),
        env: Mapping[str, str] | None = None,
        config: Mapping[str, Any] | None = None,
        read_limit: int = DEFAULT_READ_LIMIT,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        close_timeout: float = 5.0,
    ) -> None:
        self._worker_path = worker_path
        self._args = list(args)
        self._env = dict(env) if env is not None else None
        self._read_limit = read_limit
        self._max_line_bytes = max_line_bytes
        self._close_timeout = close_timeout

        # Remembered configuration, per provider, so that a restarted worker
        # gets exactly the settings the old one had (the worker also keeps
        # settings per provider, so one merged dict would not do).
        self._provider_settings: dict[str | None, dict[str, Any]] = {}
        self._active_provider: str | None = None
        if config:
            self._remember_config(dict(config), None)
        self.effective_config: Configuration | None = None

        self._shared = _Shared()
        self._gen = 0
        # The task starting a worker, shared by every caller waiting for it:
        # cancelling one caller does not cancel the start-up.
        self._starting: asyncio.Task[_Worker] | None = None
        self._next_id = 0
        self._closed = False
        self.restarts = 0
        # Dropped without close(): end the worker's input (the finalizer holds
        # only the shared state, never the client).
        self._finalizer = weakref.finalize(self, _release_worker, self._shared)
        self._finalizer.atexit = False

    # ------------------------------------------------------------------ info
    @property
    def pid(self) -> int | None:
        """The running worker's process id, or None when none is running."""
        worker = self._shared.worker
        return worker.pid if worker is not None else None

    @property
    def running(self) -> bool:
        worker = self._shared.worker
        return worker is not None and not worker.gone and worker.proc.returncode is None

    @property
    def in_flight(self) -> int:
        """Requests sent by this client and not yet answered."""
        return len(self._shared.pending) + len(self._shared.streams)

    # -------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Start the worker now instead of on the first call (configuration included)."""
        await self._ensure_started()

    async def __aenter__(self) -> WorkerClient:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self, timeout: float | None = None) -> None:
        """Stop the worker: cancel what is in flight, close its stdin, wait, then kill.

        In-flight requests are cancelled first because whoever closes the
        client no longer wants their answers; then stdin EOF lets the worker
        exit on its own (0), and only a worker that does not is terminated.
        """
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        starting = self._starting
        if starting is not None and not starting.done() and starting.get_loop() is loop:
            # A worker is being started right now: let that finish, then stop
            # it, rather than leave it running unowned.
            await asyncio.wait({starting})
        worker = self._shared.worker
        if worker is None:
            return
        if worker.loop is not loop:
            self._forget_foreign_worker(worker)
            return
        if worker.exit_reason is None:
            worker.exit_reason = "the client was closed before the worker answered"
        shared = self._shared
        for rid in [rid for rid, (owner, _) in shared.pending.items() if owner is worker] + [
            rid for rid, state in shared.streams.items() if state.worker is worker
        ]:
            worker.send_cancel(rid)
        await worker.stop(self._close_timeout if timeout is None else timeout)
        for task in (worker.reader_task, worker.stderr_task):
            if task is not None and not task.done():
                await asyncio.wait({task}, timeout=5.0)
                if not task.done():
                    task.cancel()

    async def _ensure_started(self) -> _Worker:
        """Return the running, configured worker, starting one if needed."""
        if self._closed:
            raise WorkerClosed(None, "the WorkerClient is closed", "closed")
        loop = asyncio.get_running_loop()
        worker = self._shared.worker
        if worker is not None and not worker.gone:
            if worker.loop is loop:
                return worker
            self._forget_foreign_worker(worker)
        starting = self._starting
        if starting is None or starting.done() or starting.get_loop() is not loop:
            starting = loop.create_task(self._start_worker(loop))
            starting.add_done_callback(_retrieve)
            self._starting = starting
        # shield: a caller cancelled now (barge-in on the first turn) must not
        # take down a worker that is starting fine for the next caller.
        try:
            worker = await asyncio.shield(starting)
        finally:
            if self._starting is starting and starting.done():
                self._starting = None
        if self._closed:
            raise WorkerClosed(None, "the WorkerClient is closed", "closed")
        return worker

    def _forget_foreign_worker(self, worker: _Worker) -> None:
        """The worker belongs to an event loop that is not the running one: stop using it.

        asyncio.run() ending needs none of this (it cancels the reader task,
        which stops the worker).  What remains are two ways a real program
        leaves a loop with its worker alive, each made safe in a few lines
        rather than left to hang: the loop still runs in another thread (stop
        the worker there, where its reader fails its calls), or it was
        stopped without ending its tasks (run_until_complete then a new
        loop, as some test runners do), so nothing will ever answer the
        worker's calls: drop them and end the process.
        """
        shared = self._shared
        if shared.worker is worker:
            shared.worker = None
        if worker.exit_reason is None:
            worker.exit_reason = "the client was used from another event loop"
        if worker.loop.is_running():
            worker.loop.call_soon_threadsafe(worker.close_stdin)
            return
        worker.gone = True
        for rid in [rid for rid, (owner, _) in shared.pending.items() if owner is worker]:
            del shared.pending[rid]
        for rid in [rid for rid, state in shared.streams.items() if state.worker is worker]:
            del shared.streams[rid]
        if worker.proc.returncode is None:
            try:
                os.kill(worker.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
        logger.warning("the event loop of worker %s stopped without ending it; it was terminated", worker.pid)

    async def _start_worker(self, loop: asyncio.AbstractEventLoop) -> _Worker:
        path = find_worker_binary(self._worker_path)
        proc = await asyncio.create_subprocess_exec(
            path,
            *self._args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._env,
            limit=self._read_limit,
        )
        if self._gen > 0:
            self.restarts += 1
        self._gen += 1
        worker = _Worker(proc, self._gen, loop, self._close_timeout)
        worker.stderr_task = loop.create_task(_stderr_loop(worker))
        worker.reader_task = loop.create_task(_read_loop(self._shared, worker, self._read_limit))
        logger.debug("started worker %s (pid %s)", path, proc.pid)
        try:
            for params in self._replay_config():
                self.effective_config = cast(Configuration, await self._call("configure", params, worker, None))
        except BaseException as exc:
            # A worker that is up but not configured as asked would answer with
            # the wrong provider: stop it (and reap it), so the next call tries
            # again cleanly.
            if worker.exit_reason is None:
                worker.exit_reason = f"the worker's start-up failed: {exc!r}"
            try:
                await worker.stop(self._close_timeout)
            except BaseException:
                try:
                    proc.kill()
                except ProcessLookupError:
                    pass
            raise
        if not worker.gone:
            self._shared.worker = worker
        return worker

    # ------------------------------------------------------------ configuration
    def _remember_config(self, params: dict[str, Any], result: Any) -> None:
        provider = params.get("provider")
        if provider is None and isinstance(result, dict) and isinstance(result.get("provider"), str):
            provider = result["provider"]
        if provider is None:
            provider = self._active_provider
        settings = {k: v for k, v in params.items() if k != "provider"}
        merged = self._provider_settings.pop(provider, {})
        merged.update(settings)
        # Re-insert so the active provider is replayed last.
        self._provider_settings[provider] = merged
        self._active_provider = provider

    def _replay_config(self) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = []
        for provider, settings in self._provider_settings.items():
            params = dict(settings)
            if provider is not None:
                params["provider"] = provider
            calls.append(params)
        return calls

    # ------------------------------------------------------------ I/O plumbing
    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _encode(self, message: dict[str, Any]) -> bytes:
        try:
            text = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise InvalidParamsError(
                -32602, f"request params are not JSON-serializable: {exc}", "invalid_params", data={"field": "params"}
            ) from exc
        line = text.encode("utf-8", errors="replace") + b"\n"
        if len(line) > self._max_line_bytes:
            raise InvalidParamsError(
                -32602,
                f"request is {len(line)} bytes, more than the {self._max_line_bytes} bytes the worker accepts on one line",
                "invalid_params",
                data={"field": "params"},
            )
        return line

    # ------------------------------------------------------------- requests
    async def _call(self, method: str, params: dict[str, Any] | None, worker: _Worker, timeout: float | None) -> Any:
        """Send one request to ``worker`` and wait for its answer."""
        if self._closed:
            raise WorkerClosed(None, "the WorkerClient is closed", "closed")
        loop = asyncio.get_running_loop()
        request_id = self._new_id()
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        line = self._encode(message)
        future: asyncio.Future[Any] = loop.create_future()
        pending = self._shared.pending
        pending[request_id] = (worker, future)
        sent = False
        try:
            worker.write(line)
            sent = True
            await worker.drain()
            if timeout is None:
                return await future
            try:
                return await asyncio.wait_for(future, timeout)
            except asyncio.TimeoutError:
                if method != "cancel":
                    worker.send_cancel(request_id)
                raise WorkerTimeoutError(
                    None, f"no answer from the worker to {method} within {timeout:g}s", "timeout"
                ) from None
        except asyncio.CancelledError:
            # Awaiting the future directly cancels it too; only an answer that
            # already arrived makes the cancel unnecessary.
            answered = future.done() and not future.cancelled()
            if sent and method != "cancel" and not answered:
                worker.send_cancel(request_id)
            raise
        finally:
            pending.pop(request_id, None)

    async def request(self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None) -> Any:
        """Call any worker method; the typed helpers below are thin wrappers of this.

        Cancelling the awaiting task, or ``timeout`` running out, sends
        ``cancel`` for the request so the worker stops working on it.
        """
        worker = await self._ensure_started()
        return await self._call(method, params, worker, timeout)

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        """Send a notification (no answer is expected, none comes)."""
        worker = await self._ensure_started()
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        worker.write(self._encode(message))
        await worker.drain()

    async def configure(self, params: Mapping[str, Any] | None = None, /, **kwargs: Any) -> Configuration:
        """Set provider settings (partial updates merge); returns the effective config.

        The settings are remembered and re-applied to any worker this client
        starts later (after a crash).  ``api_key`` stays in this process's
        memory for that purpose; the worker never echoes it back.
        """
        merged: dict[str, Any] = dict(params or {})
        merged.update(kwargs)
        worker = await self._ensure_started()
        result = await self._call("configure", merged, worker, None)
        self._remember_config(merged, result)
        if isinstance(result, dict):
            self.effective_config = cast(Configuration, result)
        return cast(Configuration, result)

    @staticmethod
    def _chat_params(
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        tool_choice: Any,
        model: str | None,
        temperature: float | None,
        max_tokens: int | None,
        extra: dict[str, Any] | None,
        more: dict[str, Any],
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"messages": messages}
        if tools:
            params["tools"] = tools
        if tool_choice is not None:
            params["tool_choice"] = tool_choice
        if model is not None:
            params["model"] = model
        if temperature is not None:
            params["temperature"] = temperature
        if max_tokens is not None:
            params["max_tokens"] = max_tokens
        if extra:
            params["extra"] = extra
        params.update({k: v for k, v in more.items() if v is not None})
        return params

    async def chat(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: Any = None,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        extra: dict[str, Any] | None = None,
        timeout: float | None = None,
        **more: Any,
    ) -> ChatResult:
        """One non-streaming completion; returns the ChatResult dict."""
        params = self._chat_params(messages, tools, tool_choice, model, temperature, max_tokens, extra, more)
        return cast(ChatResult, await self.request("chat", params, timeout=timeout))

    def chat_stream(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: Any = None,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        extra: dict[str, Any] | None = None,
        timeout: float | None = None,
        **more: Any,
    ) -> ChatStream:
        """A streaming completion: iterate the returned :class:`ChatStream` for deltas.

        Nothing is sent until the stream is iterated (or started), so creating
        one is free and needs no ``await``.  ``timeout`` bounds the whole
        stream, from sending the request to its final result: when it runs
        out the request is cancelled in the worker and the iteration raises
        :class:`WorkerTimeoutError` (after the deltas already received).
        """
        params = self._chat_params(messages, tools, tool_choice, model, temperature, max_tokens, extra, more)
        return ChatStream(self, params, timeout)

    async def _start_stream(self, stream: ChatStream) -> None:
        worker = await self._ensure_started()
        if self._closed:
            raise WorkerClosed(None, "the WorkerClient is closed", "closed")
        state = stream._state
        request_id = self._new_id()
        line = self._encode({"jsonrpc": "2.0", "id": request_id, "method": "chatStream", "params": stream._params})
        state.id = request_id
        state.worker = worker
        streams = self._shared.streams
        streams[request_id] = state
        try:
            worker.write(line)
        except BaseException:
            streams.pop(request_id, None)
            raise
        stream._mark_sent()
        if stream._timeout is not None:
            state.timer = worker.loop.call_later(stream._timeout, self._shared.expire_stream, state, stream._timeout)
        await worker.drain()

    async def list_models(
        self,
        provider: str | None = None,
        *,
        supports_tools: bool | None = None,
        refresh: bool | None = None,
        timeout: float | None = None,
    ) -> ListModelsResult:
        """The provider's models: ``{provider, models: [...], cached}``."""
        params: dict[str, Any] = {}
        if provider is not None:
            params["provider"] = provider
        if supports_tools is not None:
            params["supports_tools"] = supports_tools
        if refresh is not None:
            params["refresh"] = refresh
        return cast(ListModelsResult, await self.request("listModels", params, timeout=timeout))

    async def probe(self, params: Mapping[str, Any] | None = None, /, *, timeout: float | None = None, **kwargs: Any) -> ProbeResult:
        """Test a configuration end to end (current one plus ``params``) without saving it."""
        merged: dict[str, Any] = dict(params or {})
        merged.update(kwargs)
        return cast(ProbeResult, await self.request("probe", merged, timeout=timeout))

    async def ping(self, *, timeout: float | None = None) -> PingResult:
        """``{ok, version, in_flight}``; starts the worker if needed."""
        return cast(PingResult, await self.request("ping", None, timeout=timeout))

    async def warm(self, *, timeout: float | None = None) -> WarmResult:
        """Re-open the upstream connection if the pooled one may have been closed: ``{ok, ms, reused, ...}``.

        A failed connection is reported in the result, not raised; a worker
        that has no ``warm`` method answers with a :class:`ProtocolError`.
        """
        return cast(WarmResult, await self.request("warm", None, timeout=timeout))

    @staticmethod
    def assistant_message(result: Mapping[str, Any]) -> dict[str, Any]:
        """The assistant message to append to the conversation after a ChatResult (tool calls included).

        Tool calls are written in the OpenAI wire shape, ``{"id", "type":
        "function", "function": {"name", "arguments": "<JSON text>"}}``, which
        every worker version and every OpenAI-compatible server accepts.  The
        arguments are the model's own text (``arguments_raw``) when it is a
        JSON object, else the parsed ``arguments`` serialized.  ``content`` is
        the answer's text, null when there was none.
        """
        message: dict[str, Any] = {"role": "assistant", "content": result.get("content")}
        calls = result.get("tool_calls") or []
        if calls:
            message["tool_calls"] = [
                {
                    "id": call.get("id") or f"call_{index}",
                    "type": "function",
                    "function": {"name": call.get("name") or "", "arguments": _arguments_text(call)},
                }
                for index, call in enumerate(calls)
            ]
        return message

    async def cancel(self, request_id: int, *, wait: bool = False) -> bool | None:
        """Cancel a request by id.

        By default a notification (fire and forget, what barge-in needs); with
        ``wait=True`` a request, returning whether the worker found it running.
        """
        if wait:
            result = await self.request("cancel", {"id": request_id})
            return bool(result.get("cancelled")) if isinstance(result, dict) else None
        await self.notify("cancel", {"id": request_id})
        return None

    async def shutdown(self, *, timeout: float | None = None) -> ShutdownResult:
        """Ask the worker to exit after its in-flight requests; the client stays usable.

        The next call after the worker has exited starts a new one.
        """
        worker = await self._ensure_started()
        worker.exit_reason = "the worker was shut down before it answered"
        return cast(ShutdownResult, await self._call("shutdown", None, worker, timeout))


def _arguments_text(call: Mapping[str, Any]) -> str:
    """A tool call's arguments as JSON text: the model's own when they form an object."""
    raw = call.get("arguments_raw")
    if isinstance(raw, str):
        try:
            if isinstance(json.loads(raw), dict):
                return raw
        except ValueError:
            pass
    arguments = call.get("arguments")
    return json.dumps(arguments if isinstance(arguments, dict) else {}, ensure_ascii=False)
