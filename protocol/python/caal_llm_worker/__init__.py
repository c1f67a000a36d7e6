"""Python client for ``caal-llm-worker`` and a drop-in CAAL LLM provider.

Standard library only, so CAAL gains no dependency:

* :class:`WorkerClient` — asyncio JSON-RPC client that spawns and supervises the worker;
* :class:`WorkerProvider` / :func:`create_provider_from_settings` — CAAL's provider interface;
* :func:`caal_llm_worker.llm_node.llm_node` — CAAL's voice loop with every round streamed;
* :mod:`caal_llm_worker.errors` — one exception class per error kind;
* ``python3 -m caal_llm_worker`` — try a configuration by hand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .binary import find_worker_binary
from .client import ChatStream, WorkerClient
from .errors import (
    AuthError,
    BadRequestError,
    ContentBlockedError,
    ContextLengthError,
    InsufficientCreditsError,
    InvalidParamsError,
    NotConfiguredError,
    NotFoundError,
    ProtocolError,
    RateLimitError,
    RequestCancelled,
    UpstreamError,
    WorkerClosed,
    WorkerConnectionError,
    WorkerCrashed,
    WorkerError,
    WorkerNotFound,
    WorkerTimeoutError,
)
from .provider import WorkerProvider, create_provider_from_settings

if TYPE_CHECKING:
    from .provider import LLMResponse, TokenUsage, ToolCall

__version__ = "0.3.0"

__all__ = [
    "WorkerClient",
    "ChatStream",
    "WorkerProvider",
    "create_provider_from_settings",
    "find_worker_binary",
    "LLMResponse",
    "ToolCall",
    "TokenUsage",
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
]


def __getattr__(name: str) -> Any:
    # CAAL's types are resolved on first use, not at import: CAAL's provider
    # package may import this package while it is being imported.
    if name in ("LLMResponse", "ToolCall", "TokenUsage"):
        from . import provider

        value = getattr(provider, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
