"""The worker process side of :class:`~caal_llm_worker.client.WorkerClient`.

Everything here belongs to one running worker, never to a client: the process
and its pipes (:class:`_Worker`), the routing of what it writes to the calls and
streams waiting for it (:class:`_Shared`), the reader and stderr tasks, and what
happens when the process exits.  The tasks hold these objects, not the client,
so a client nobody uses any more can be garbage-collected (and its worker
stopped) while they run.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import os
import re
import signal
from collections.abc import Callable
from typing import Any

from .errors import WorkerClosed, WorkerCrashed, WorkerError, WorkerTimeoutError, error_from_response

logger = logging.getLogger("caal_llm_worker.client")
worker_logger = logging.getLogger("caal_llm_worker.worker")

_DELTA_METHOD = "chatStream.delta"

# A log level word near the start of a stderr line ("warning: ...", "[debug] ...",
# "2025-01-01T00:00:00Z error ...", "level=info ...").
_LEVEL_RE = re.compile(
    r"\b(trace|debug|info|notice|warn|warning|error|critical|fatal)\b", re.IGNORECASE
)
_LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "notice": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "fatal": logging.CRITICAL,
}


def _stderr_level(line: str) -> int:
    """Guess the level of a worker log line so it is forwarded at the right level."""
    match = _LEVEL_RE.search(line, 0, 64)
    return _LEVELS[match.group(1).lower()] if match else logging.INFO


class _StreamState:
    """What the reader task knows about one ``chatStream`` request.

    Kept apart from :class:`ChatStream` on purpose: the client's routing table
    holds this object, not the user-facing stream, so a stream that its user
    drops can be garbage-collected (and cancelled in ``__del__``).
    """

    __slots__ = ("id", "worker", "deltas", "waiter", "result", "error", "final", "timer")

    def __init__(self) -> None:
        self.id: int | None = None
        self.worker: _Worker | None = None
        self.deltas: collections.deque[dict[str, Any]] = collections.deque()
        self.waiter: asyncio.Future[None] | None = None
        self.result: dict[str, Any] | None = None
        self.error: WorkerError | None = None
        self.final: bool = False
        self.timer: asyncio.TimerHandle | None = None

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def push(self, delta: dict[str, Any]) -> None:
        self.deltas.append(delta)
        self._wake()

    def finish(self, result: dict[str, Any] | None = None, error: WorkerError | None = None) -> None:
        if self.final:
            return
        self.final = True
        self.result = result
        self.error = error
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self._wake()


class _Worker:
    """One worker process and everything that belongs to it alone.

    The reader and stderr tasks of a worker hold this object (and the shared
    routing table), never the :class:`WorkerClient`: a client nobody uses any
    more can then be garbage-collected, and its finalizer stops the worker.
    Everything the exit handling reports (pid, stderr lines, exit status,
    whether we caused the exit) is read from here, so the report is about the
    worker that exited even if another one has started since.
    """

    def __init__(self, proc: asyncio.subprocess.Process, gen: int, loop: asyncio.AbstractEventLoop, close_timeout: float) -> None:
        self.proc = proc
        self.pid = proc.pid
        self.gen = gen
        self.loop = loop
        self.close_timeout = close_timeout
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        self.reader_task: asyncio.Task[None] | None = None
        self.stderr_task: asyncio.Task[None] | None = None
        # Set when we caused the exit (close, shutdown, garbage collection, the
        # event loop ending, a failed start-up): the exit is then no crash.
        self.exit_reason: str | None = None
        # True once its stdout ended: nothing can be answered any more.
        self.gone = False

    def write(self, line: bytes) -> None:
        """Write one whole line; a single write keeps lines from interleaving."""
        stdin = self.proc.stdin
        if self.gone or stdin is None or stdin.is_closing():
            raise WorkerCrashed(None, "the worker exited before the request could be sent", "crashed")
        try:
            stdin.write(line)
        except (BrokenPipeError, ConnectionResetError, RuntimeError) as exc:
            raise WorkerCrashed(None, f"could not write to the worker: {exc}", "crashed") from exc

    async def drain(self) -> None:
        stdin = self.proc.stdin
        if self.gone or stdin is None:
            return
        try:
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError, RuntimeError) as exc:
            raise WorkerCrashed(None, f"could not write to the worker: {exc}", "crashed") from exc

    def send_cancel(self, request_id: int) -> None:
        """Fire a ``cancel`` notification without awaiting (usable from cancellation paths)."""
        line = json.dumps({"jsonrpc": "2.0", "method": "cancel", "params": {"id": request_id}}).encode() + b"\n"
        try:
            self.write(line)
        except WorkerError:
            pass

    def close_stdin(self) -> None:
        """End the worker's input: it finishes what is in flight and exits 0."""
        stdin = self.proc.stdin
        try:
            if stdin is not None and not stdin.is_closing():
                stdin.close()
        except Exception:  # pragma: no cover - already gone, or its loop is closed
            pass

    async def stop(self, timeout: float) -> None:
        """Close stdin, wait up to ``timeout`` for the exit, then terminate, then kill; always reaps."""
        proc = self.proc
        self.close_stdin()
        try:
            await asyncio.wait_for(proc.wait(), timeout)
            return
        except asyncio.TimeoutError:
            pass
        logger.warning("worker %s did not exit within %.1fs of stdin EOF; terminating", self.pid, timeout)
        try:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 2.0)
            return
        except (asyncio.TimeoutError, ProcessLookupError):
            pass
        try:
            proc.kill()
        except ProcessLookupError:
            pass
        await proc.wait()


class _Shared:
    """What a client shares with its workers' background tasks and its finalizer.

    It never refers to the :class:`WorkerClient` itself, so those tasks do not
    keep a client alive that its user has dropped.
    """

    def __init__(self) -> None:
        self.worker: _Worker | None = None  # the running, configured worker
        self.pending: dict[int, tuple[_Worker, asyncio.Future[Any]]] = {}
        self.streams: dict[int, _StreamState] = {}

    def abandon_stream(self, request_id: int) -> None:
        state = self.streams.pop(request_id, None)
        if state is not None and not state.final and state.worker is not None:
            state.worker.send_cancel(request_id)

    def expire_stream(self, state: _StreamState, timeout: float) -> None:
        """A stream's ``timeout`` ran out: stop it in the worker and fail it here."""
        state.timer = None
        if state.final or state.id is None:
            return
        self.streams.pop(state.id, None)
        if state.worker is not None:
            state.worker.send_cancel(state.id)
        state.finish(error=WorkerTimeoutError(None, f"no complete answer from the worker to chatStream within {timeout:g}s", "timeout"))

    # ------------------------------------------------------------- routing
    def handle_line(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            logger.warning("worker wrote a line that is not JSON: %r", line[:200])
            return
        if isinstance(message, list):
            for item in message:
                self.handle_message(item)
        else:
            self.handle_message(message)

    def handle_message(self, message: Any) -> None:
        if not isinstance(message, dict):
            logger.warning("worker wrote a JSON value that is not a message: %r", message)
            return
        method = message.get("method")
        if method is not None:
            params = message.get("params")
            if method == _DELTA_METHOD and isinstance(params, dict):
                state = self.streams.get(params.get("id"))  # type: ignore[arg-type]
                if state is not None:
                    state.push(params)
                # else: a late delta of a stream we already abandoned.
            else:
                logger.debug("worker notification %s: %r", method, params)
            return
        request_id = message.get("id")
        if isinstance(request_id, bool) or not isinstance(request_id, int):
            error = message.get("error")
            logger.warning("worker answered a request it could not identify (id %r): %r", request_id, error)
            return
        state = self.streams.pop(request_id, None)
        if state is not None:
            if "error" in message:
                state.finish(error=error_from_response(message["error"]))
            else:
                state.finish(result=message.get("result"))
            return
        entry = self.pending.get(request_id)
        if entry is None:
            return  # answer to an abandoned or cancelled call
        future = entry[1]
        if future.done():
            return
        if "error" in message:
            future.set_exception(error_from_response(message["error"]))
        else:
            future.set_result(message.get("result"))

    def fail_worker_calls(self, worker: _Worker, make_error: Callable[[], WorkerError]) -> None:
        for request_id, (owner, future) in list(self.pending.items()):
            if owner is worker and not future.done():
                future.set_exception(make_error())
        for request_id, state in list(self.streams.items()):
            if state.worker is worker:
                del self.streams[request_id]
                state.finish(error=make_error())


async def _read_loop(shared: _Shared, worker: _Worker, read_limit: int) -> None:
    """Route every line the worker writes; when its stdout ends, handle its exit."""
    reader = worker.proc.stdout
    assert reader is not None
    cancelled = False
    try:
        while True:
            try:
                line = await reader.readline()
            except ValueError as exc:  # a line over read_limit: the stream is no longer framed
                logger.error("worker wrote a line longer than %d bytes (%s); stopping it", read_limit, exc)
                try:
                    worker.proc.kill()
                except ProcessLookupError:
                    pass
                break
            if not line:
                break
            shared.handle_line(line)
    except asyncio.CancelledError:
        # The event loop is ending (asyncio.run cancels every task) or someone
        # cancelled us: the client can no longer hear this worker, so stop it.
        cancelled = True
        raise
    except Exception:  # pragma: no cover - a reader bug must not hang callers
        logger.exception("worker reader failed")
    finally:
        await _on_worker_exit(shared, worker, cancelled)


async def _stderr_loop(worker: _Worker) -> None:
    """Forward the worker's stderr to logging, keeping its last lines for crash reports."""
    reader = worker.proc.stderr
    assert reader is not None

    async def forward() -> None:
        while True:
            try:
                raw = await reader.readline()
            except ValueError:
                raw = await reader.read(65536)
            except Exception:
                return
            if not raw:
                return
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if not text:
                continue
            worker.stderr_tail.append(text)
            worker_logger.log(_stderr_level(text), "[worker %s] %s", worker.pid, text)

    try:
        await forward()
    except asyncio.CancelledError:
        # The loop is ending; the reader task stops the worker. Keep its last
        # lines (and read the pipe to its end, so it is closed cleanly).
        try:
            await asyncio.wait_for(forward(), worker.close_timeout + 5.0)
        except (asyncio.TimeoutError, asyncio.CancelledError, Exception):
            pass
        raise


async def _on_worker_exit(shared: _Shared, worker: _Worker, cancelled: bool) -> None:
    """The worker's stdout ended: make sure it exits, then fail every call pending on it."""
    worker.gone = True
    if shared.worker is worker:
        shared.worker = None  # the next call spawns a fresh worker
    proc = worker.proc
    recancelled = False
    try:
        if cancelled:
            if worker.exit_reason is None:
                worker.exit_reason = "the event loop stopped the client without close()"
            await worker.stop(worker.close_timeout)
        else:
            # Its stdout is closed, so it can answer nothing more: let it go.
            worker.close_stdin()
            try:
                await asyncio.wait_for(proc.wait(), 2.0)
            except asyncio.TimeoutError:
                try:
                    proc.kill()
                except ProcessLookupError:
                    pass
                await proc.wait()
        stderr_task = worker.stderr_task
        if stderr_task is not None and not stderr_task.done():
            await asyncio.wait({stderr_task}, timeout=2.0)
    except asyncio.CancelledError:
        # Cancelled again while stopping it: stop at once, then report.
        recancelled = True
        try:
            proc.kill()
        except ProcessLookupError:
            pass
    returncode = proc.returncode
    expected = worker.exit_reason
    if expected is not None:
        reason = expected
        logger.log(
            logging.DEBUG if not cancelled else logging.INFO,
            "worker %s exited with status %s (%s)",
            worker.pid,
            returncode,
            expected,
        )
    else:
        reason = f"the worker process (pid {worker.pid}) exited with status {returncode}"
        tail = list(worker.stderr_tail)[-3:]
        if tail:
            reason += "; its last words on stderr: " + " | ".join(tail)
        logger.error("%s; failing its pending calls", reason)

    def make_error() -> WorkerError:
        if expected is not None:
            return WorkerClosed(None, reason, "closed", data={"returncode": returncode, "pid": worker.pid})
        return WorkerCrashed(None, reason, "crashed", data={"returncode": returncode, "pid": worker.pid})

    shared.fail_worker_calls(worker, make_error)
    if recancelled:
        raise asyncio.CancelledError


def _release_worker(shared: _Shared) -> None:
    """Finalizer of a garbage-collected WorkerClient: end its worker's input.

    The worker finishes whatever is in flight and exits 0; its reader task
    (which holds no reference to the client) reaps it.  Runs in whatever
    thread the collection happened in, so it only schedules on the loop.
    """
    worker = shared.worker
    if worker is None or worker.gone:
        return
    if worker.exit_reason is None:
        worker.exit_reason = "the WorkerClient was garbage-collected without close()"
    loop = worker.loop
    try:
        if not loop.is_closed():
            loop.call_soon_threadsafe(worker.close_stdin)
            return
    except RuntimeError:
        pass
    # Its loop is gone: nothing can close the pipe properly any more.
    try:
        os.kill(worker.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Done-callback: a start-up failure whose callers were all cancelled is not "never retrieved"."""
    if not task.cancelled():
        task.exception()
