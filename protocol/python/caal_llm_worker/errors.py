"""Typed exceptions for errors reported by the worker (or by the pipe to it).

The worker reports every failure as a JSON-RPC error whose ``data.kind`` names
what went wrong (see protocol/PROTOCOL.md).  Callers such as CAAL need to react
differently to a wrong key, a rate limit, a barge-in cancellation or a dead
worker, so each kind becomes its own exception class; all of them derive from
:class:`WorkerError`, which carries the fields of the error object.

Timeouts and connection failures also derive from the built-in
:class:`TimeoutError` / :class:`ConnectionError`, so code that already handles
those (as CAAL's openai-SDK path does) keeps working unchanged.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "WorkerError",
    "AuthError",
    "RateLimitError",
    "InsufficientCreditsError",
    "ContentBlockedError",
    "NotFoundError",
    "BadRequestError",
    "ContextLengthError",
    "UpstreamError",
    "WorkerTimeoutError",
    "WorkerConnectionError",
    "NotConfiguredError",
    "RequestCancelled",
    "InvalidParamsError",
    "ProtocolError",
    "WorkerCrashed",
    "WorkerClosed",
    "WorkerNotFound",
    "error_from_response",
    "ERROR_CLASSES_BY_KIND",
    "KIND_BY_CODE",
]


class WorkerError(Exception):
    """Base class of every error coming from the worker or the link to it.

    Attributes mirror the JSON-RPC error object: ``code`` (e.g. -32002),
    ``message``, and from ``error.data``: ``kind`` (e.g. ``"rate_limited"``),
    ``status`` (upstream HTTP status or None), ``retry_after_s``,
    ``retryable``; ``data`` keeps the whole ``error.data`` object so nothing
    the worker said is lost (``upstream_message``, ``attempts``,
    ``partial_content``...).
    """

    #: The kind this class stands for; used when the worker gave none.
    default_kind: str = "error"

    def __init__(
        self,
        code: int | None,
        message: str,
        kind: str | None = None,
        status: int | None = None,
        retry_after_s: float | None = None,
        retryable: bool | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code: int | None = code
        self.message: str = message
        self.kind: str = kind or self.default_kind
        self.status: int | None = status
        self.retry_after_s: float | None = retry_after_s
        self.retryable: bool = bool(retryable) if retryable is not None else False
        self.data: dict[str, Any] = dict(data or {})

    # Convenience accessors for the optional fields of error.data.
    @property
    def upstream_message(self) -> str | None:
        """The upstream server's own error message, when it sent one."""
        value = self.data.get("upstream_message")
        return value if isinstance(value, str) else None

    @property
    def provider(self) -> str | None:
        """The worker provider that produced the error (``openai_compatible``...)."""
        value = self.data.get("provider")
        return value if isinstance(value, str) else None

    @property
    def attempts(self) -> int | None:
        """How many upstream attempts the worker made (retries included)."""
        value = self.data.get("attempts")
        return value if isinstance(value, int) else None

    @property
    def partial_content(self) -> str | None:
        """Content produced before the failure (cancel, timeout, mid-stream error)."""
        value = self.data.get("partial_content")
        return value if isinstance(value, str) else None

    @property
    def partial_tool_calls(self) -> list[dict[str, Any]]:
        """Tool-call fragments produced before the failure (possibly empty)."""
        value = self.data.get("partial_tool_calls")
        return list(value) if isinstance(value, list) else []

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        parts = [f"code={self.code!r}", f"kind={self.kind!r}", f"message={self.message!r}"]
        if self.status is not None:
            parts.append(f"status={self.status!r}")
        if self.retry_after_s is not None:
            parts.append(f"retry_after_s={self.retry_after_s!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


class AuthError(WorkerError):
    """401/403: the API key is missing, wrong or not allowed (-32001)."""

    default_kind = "auth"


class RateLimitError(WorkerError):
    """429: throttled upstream; ``retry_after_s`` says how long to wait (-32002)."""

    default_kind = "rate_limited"


class InsufficientCreditsError(WorkerError):
    """402: the account has run out of credits (OpenRouter) (-32003)."""

    default_kind = "insufficient_credits"


class ContentBlockedError(WorkerError):
    """Moderation refused the request (-32004)."""

    default_kind = "content_blocked"


class NotFoundError(WorkerError):
    """404: unknown model or endpoint (-32005)."""

    default_kind = "not_found"


class BadRequestError(WorkerError):
    """400/413/422: the upstream rejected the request as malformed (-32006)."""

    default_kind = "bad_request"


class ContextLengthError(BadRequestError):
    """The conversation does not fit the model's context window (-32006).

    A subclass of BadRequestError because it is one, but worth its own class:
    the cure (trim the history) differs from any other bad request.
    """

    default_kind = "context_length"


class UpstreamError(WorkerError):
    """5xx, an unavailable upstream, or a response the worker could not read (-32007).

    ``kind`` tells them apart: ``upstream_error``, ``unavailable``
    (502/503/504) or ``invalid_response``.
    """

    default_kind = "upstream_error"


class WorkerTimeoutError(WorkerError, TimeoutError):
    """A connect, first-token, idle or whole-request timeout (-32008)."""

    default_kind = "timeout"


class WorkerConnectionError(WorkerError, ConnectionError):
    """The upstream server could not be reached: refused, reset, DNS, TLS (-32009)."""

    default_kind = "connection"


class NotConfiguredError(WorkerError):
    """No provider is configured yet, or the configuration is incomplete (-32010)."""

    default_kind = "not_configured"


class RequestCancelled(WorkerError):
    """The request was cancelled (-32800); ``partial_content`` has what came before.

    Deliberately *not* an ``asyncio.CancelledError``: that one means "this task
    is being cancelled" and must never be raised for a request that merely
    ended early.
    """

    default_kind = "cancelled"


class InvalidParamsError(WorkerError):
    """-32602: the worker rejected the parameters; ``field`` names the culprit."""

    default_kind = "invalid_params"

    @property
    def field(self) -> str | None:
        """Dotted path of the offending parameter, e.g. ``messages[0].role``."""
        value = self.data.get("field")
        return value if isinstance(value, str) else None


class ProtocolError(WorkerError):
    """-32700/-32600/-32601/-32603: a JSON-RPC level failure.

    These mean a bug on one side of the pipe (client sent something the worker
    does not understand, or the worker failed internally), never an upstream
    problem.
    """

    default_kind = "internal"


class WorkerCrashed(WorkerError):
    """The worker process died (or its pipes broke) while the call was pending.

    Every pending call fails with this at once; the next call starts a fresh
    worker and re-applies the last configuration.
    """

    default_kind = "crashed"


class WorkerClosed(WorkerError):
    """The client was closed; no more calls can be made through it."""

    default_kind = "closed"


class WorkerNotFound(WorkerError, FileNotFoundError):
    """The ``caal-llm-worker`` binary could not be found anywhere we looked."""

    default_kind = "worker_not_found"


#: Exception class for each ``error.data.kind`` the contract defines.
ERROR_CLASSES_BY_KIND: dict[str, type[WorkerError]] = {
    "auth": AuthError,
    "rate_limited": RateLimitError,
    "insufficient_credits": InsufficientCreditsError,
    "content_blocked": ContentBlockedError,
    "not_found": NotFoundError,
    "bad_request": BadRequestError,
    "context_length": ContextLengthError,
    "upstream_error": UpstreamError,
    "unavailable": UpstreamError,
    "invalid_response": UpstreamError,
    "timeout": WorkerTimeoutError,
    "connection": WorkerConnectionError,
    "not_configured": NotConfiguredError,
    "cancelled": RequestCancelled,
    "invalid_params": InvalidParamsError,
    "parse_error": ProtocolError,
    "invalid_request": ProtocolError,
    "method_not_found": ProtocolError,
    "internal": ProtocolError,
}

#: Default kind for each error code, used when ``error.data.kind`` is missing.
KIND_BY_CODE: dict[int, str] = {
    -32001: "auth",
    -32002: "rate_limited",
    -32003: "insufficient_credits",
    -32004: "content_blocked",
    -32005: "not_found",
    -32006: "bad_request",
    -32007: "upstream_error",
    -32008: "timeout",
    -32009: "connection",
    -32010: "not_configured",
    -32800: "cancelled",
    -32602: "invalid_params",
    -32700: "parse_error",
    -32600: "invalid_request",
    -32601: "method_not_found",
    -32603: "internal",
}


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def error_from_response(error: Any) -> WorkerError:
    """Turn a JSON-RPC ``error`` object from the worker into the right exception.

    The kind decides the class (it is finer than the code: ``context_length``
    and ``bad_request`` share -32006); the code is the fallback for an error
    without ``data.kind``.  Malformed error objects still become a
    :class:`WorkerError`, never a crash in the reader.
    """
    if not isinstance(error, dict):
        return ProtocolError(None, f"malformed error from worker: {error!r}", "internal")
    code = error.get("code")
    if isinstance(code, bool) or not isinstance(code, int):
        code = None
    message = error.get("message")
    if not isinstance(message, str) or not message:
        message = f"worker error {code}"
    data = error.get("data")
    if not isinstance(data, dict):
        data = {}
    kind = data.get("kind")
    if not isinstance(kind, str) or not kind:
        kind = KIND_BY_CODE.get(code, "error") if code is not None else "error"
    cls = ERROR_CLASSES_BY_KIND.get(kind)
    if cls is None:
        cls = ERROR_CLASSES_BY_KIND.get(KIND_BY_CODE.get(code, ""), WorkerError) if code is not None else WorkerError
    status = data.get("status")
    if isinstance(status, bool) or not isinstance(status, int):
        status = None
    retryable = data.get("retryable")
    return cls(
        code,
        message,
        kind,
        status,
        _as_number(data.get("retry_after_s")),
        retryable if isinstance(retryable, bool) else None,
        data,
    )
