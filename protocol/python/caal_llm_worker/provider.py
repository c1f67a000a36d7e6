"""``WorkerProvider``: a drop-in CAAL LLM provider backed by the worker.

CAAL's ``llm_node`` talks to provider objects (``caal.llm.providers.base.
LLMProvider``).  This class is one of them, so switching CAAL to the worker is
one changed import::

    # before: from caal.llm.providers import create_provider_from_settings
    from caal_llm_worker.provider import create_provider_from_settings

When ``caal`` is importable the provider is registered as a (virtual)
subclass of CAAL's ``LLMProvider`` ABC, so ``isinstance(provider,
LLMProvider)`` holds, and it returns CAAL's own ``LLMResponse`` / ``ToolCall``
/ ``TokenUsage``; when CAAL is not installed at all it uses local dataclasses
with identical fields, so the same file works inside and outside CAAL (and in
this package's tests, which have no CAAL).  CAAL's types are looked up on
first use, not at import, so CAAL's provider package may import this module
(see ``_types``).
"""

from __future__ import annotations

import abc
import asyncio
import dataclasses
import importlib
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from .client import ChatStream, WorkerClient
from .errors import WorkerError
from .results import ModelInfo, ProbeResult

__all__ = [
    "WorkerProvider",
    "StreamedReply",
    "LLMResponse",
    "ToolCall",
    "TokenUsage",
    "create_provider_from_settings",
    "USING_CAAL_TYPES",
    "GROQ_BASE_URL",
    "OPENROUTER_BASE_URL",
]

logger = logging.getLogger("caal_llm_worker.provider")

GROQ_BASE_URL = "https://api.groq.com/openai/v1"
OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"

# The providers the worker serves, spelled as CAAL spells them.
_WORKER_PROVIDERS = ("openai_compatible", "openrouter", "mock")


@dataclass
class _LocalToolCall:
    """Normalized tool call representation (same fields as CAAL's ToolCall)."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass
class _LocalTokenUsage:
    """Token counts from an LLM API call (same fields as CAAL's TokenUsage)."""

    prompt_tokens: int
    completion_tokens: int


@dataclass
class _LocalLLMResponse:
    """Normalized LLM response representation (same fields as CAAL's LLMResponse)."""

    content: str | None
    tool_calls: list[Any]
    usage: Any = None


# CAAL's types are looked up lazily, the first time they are needed (a
# WorkerProvider being built, the names below), not when this module is
# imported: CAAL's own provider package may import this module while it is
# itself still being imported, and CAAL's base module is complete only after
# that.  The same reason makes WorkerProvider a virtual subclass of CAAL's
# LLMProvider (registered with the ABC when the types are resolved) rather
# than a real one: a class statement needs its base when this module is
# imported, which may be before CAAL's base exists.  WorkerProvider defines
# every member of CAAL's interface itself, so it inherits nothing it needs.
# Only a CAAL that is really absent falls back to the local types; any other
# import error inside CAAL surfaces.
_CAAL_BASE_MODULE = "caal.llm.providers.base"


class _Types(NamedTuple):
    LLMResponse: type
    ToolCall: type
    TokenUsage: type
    using_caal: bool
    response_has_usage: bool


_types_cache: _Types | None = None


def _caal_is_absent(exc: ModuleNotFoundError) -> bool:
    """True when the missing module is CAAL's base module or one of its packages (not something CAAL imports)."""
    parts = _CAAL_BASE_MODULE.split(".")
    return exc.name in {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def _types() -> _Types:
    global _types_cache
    if _types_cache is None:
        try:
            base = importlib.import_module(_CAAL_BASE_MODULE)
        except ModuleNotFoundError as exc:
            if not _caal_is_absent(exc):
                raise
            response, tool_call, usage, using = _LocalLLMResponse, _LocalToolCall, _LocalTokenUsage, False
        else:
            try:
                provider, response, tool_call = base.LLMProvider, base.LLMResponse, base.ToolCall
            except AttributeError as exc:
                raise ImportError(f"{_CAAL_BASE_MODULE} does not define the provider types: {exc}") from exc
            if not isinstance(provider, abc.ABCMeta):
                raise ImportError(f"{_CAAL_BASE_MODULE}.LLMProvider is not an abstract base class")
            provider.register(WorkerProvider)
            usage = getattr(base, "TokenUsage", _LocalTokenUsage)  # older CAAL without usage tracking
            using = True
        has_usage = any(f.name == "usage" for f in dataclasses.fields(response))
        _types_cache = _Types(response, tool_call, usage, using, has_usage)
    return _types_cache


# Per-call options a caller may pass through **kwargs; anything else is ignored
# (CAAL's providers also accept and ignore unknown options).
_CALL_OPTIONS = ("model", "temperature", "max_tokens", "extra", "timeout")


OLLAMA_DEFAULT_HOST = "http://localhost:11434"


def _ollama_base_url(host: str | None) -> str:
    """Ollama's OpenAI-compatible endpoint for CAAL's ``ollama_host`` (or ``OLLAMA_HOST``, as CAAL's client reads it)."""
    host = str(host or os.environ.get("OLLAMA_HOST") or OLLAMA_DEFAULT_HOST).strip().rstrip("/")
    if "://" not in host:
        host = "http://" + host  # OLLAMA_HOST is often written without a scheme ("0.0.0.0:11434")
    return host if host.endswith("/v1") else host + "/v1"


def _warn_ollama_route(base_url: str, num_ctx: Any = None, think: Any = None) -> None:
    carried = "num_ctx and think"
    if num_ctx is not None or think is not None:
        carried = f"CAAL's num_ctx ({num_ctx}) and think ({think})"
    logger.warning(
        "llm_provider 'ollama' runs through Ollama's OpenAI-compatible endpoint %s, which does not carry %s. "
        "Set the context size on the Ollama server: OLLAMA_CONTEXT_LENGTH in its environment, or PARAMETER "
        "num_ctx in a Modelfile. Thinking is then the model's own default (on for models that can think; "
        "Ollama's /v1 turns it off only for requests with reasoning_effort 'none'); its text is never spoken, "
        "but a thinking model starts answering later.",
        base_url,
        carried,
    )


class WorkerProvider:
    """CAAL LLM provider that runs every request through ``caal-llm-worker``.

    Implements CAAL's ``LLMProvider`` interface, and is registered as its
    subclass when CAAL is installed (``isinstance`` and ``issubclass`` hold
    from the first instance on, or from import when CAAL came first).

    Args:
        provider: ``"openai_compatible"``, ``"openrouter"`` or ``"mock"``
            (``"groq"`` is accepted and means openai_compatible at Groq's
            OpenAI-compatible endpoint; ``"ollama"`` means openai_compatible
            at ``{base_url}/v1``, ``base_url`` being Ollama's host as CAAL
            gives it, with a logged warning that num_ctx and think do not
            carry over).
        model: model name as the server knows it.
        base_url: server URL (``.../v1``); OpenRouter's is the default there.
        api_key: optional; without one no Authorization header is sent (the
            worker still falls back to OPENAI_API_KEY / OPENROUTER_API_KEY).
        temperature, max_tokens: defaults for every request (CAAL's: 0.7, 4096).
        headers: extra HTTP headers for the upstream.
        config: further ``configure`` params (timeouts, ``max_retries``,
            ``fallback_models``, ``strip_think``, ``recover_tool_calls``,
            ``transport``, ``mock``...).
        worker_path, worker_args, worker_env: how to start the worker
            (binary, extra arguments, environment; default: inherit ours).
        client: an existing :class:`WorkerClient` to use instead of starting
            one.  A worker has one active configuration, so share a client
            only between providers with the same settings.

    Built inside a running event loop, the provider starts and configures
    its worker at once, in the background, so the first turn does not wait
    for it; a failure there is raised by the first call (which tries again),
    never by the constructor.  Built outside a loop (or with a shared
    ``client``), the worker starts on the first call.  It stops when
    :meth:`aclose` is called, or when the provider (with its client) is
    garbage-collected.
    """

    def __init__(
        self,
        provider: str = "openai_compatible",
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        temperature: float | None = 0.7,
        max_tokens: int | None = 4096,
        *,
        headers: Mapping[str, str] | None = None,
        config: Mapping[str, Any] | None = None,
        worker_path: str | os.PathLike[str] | None = None,
        worker_args: Iterable[str] = (),
        worker_env: Mapping[str, str] | None = None,
        client: WorkerClient | None = None,
    ) -> None:
        _types()  # CAAL's types, and WorkerProvider registered as CAAL's LLMProvider
        name = (provider or "").lower()
        if name == "ollama":
            # base_url is Ollama's host, as CAAL's OllamaProvider takes it.
            name = "openai_compatible"
            base_url = _ollama_base_url(base_url)
            _warn_ollama_route(base_url)
        if name == "groq":
            name = "openai_compatible"
            base_url = base_url or GROQ_BASE_URL
        if name not in _WORKER_PROVIDERS:
            raise ValueError(
                f"Unknown LLM provider for caal-llm-worker: {provider!r}. "
                "Supported providers: openai_compatible, openrouter, groq and ollama (via openai_compatible), mock"
            )
        if name == "openrouter" and not (api_key or os.environ.get("OPENROUTER_API_KEY")):
            raise ValueError(
                "OpenRouter API key required. Pass api_key or set the OPENROUTER_API_KEY environment variable."
            )
        self._provider = name
        self._model = model
        self._base_url = base_url.rstrip("/") if base_url else None
        self._temperature = temperature
        self._max_tokens = max_tokens
        self._last_usage: Any = None

        worker_config: dict[str, Any] = {"provider": name}
        if model is not None:
            worker_config["model"] = model
        if self._base_url is not None:
            worker_config["base_url"] = self._base_url
        if api_key:
            worker_config["api_key"] = api_key
        if temperature is not None:
            worker_config["temperature"] = temperature
        if max_tokens is not None:
            worker_config["max_tokens"] = max_tokens
        if headers:
            worker_config["headers"] = dict(headers)
        if config:
            worker_config.update(config)
        self._worker_config = worker_config

        if client is None:
            client = WorkerClient(worker_path, args=worker_args, env=worker_env, config=worker_config)
            self._owns_client = True
        else:
            self._owns_client = False
        self._client = client
        self._configured = self._owns_client
        self._starting = self._start_in_background() if self._owns_client else None

        logger.debug("WorkerProvider initialized: %s %s at %s", name, model, self._base_url)

    def _start_in_background(self) -> asyncio.Task[None] | None:
        """Start and configure the worker now if a loop runs, so that the first turn finds it ready."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None  # no loop yet: the first call starts it
        task = loop.create_task(self._client.start())
        task.add_done_callback(_note_background_start)
        return task

    # ------------------------------------------------------------- settings
    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], **kwargs: Any) -> WorkerProvider:
        """Build from a CAAL settings dict, with CAAL's keys, defaults and env fallbacks.

        Mirrors ``caal.llm.providers.create_provider_from_settings``:
        ``openai_compatible`` (``openai_base_url``, ``openai_model``,
        ``openai_api_key`` or OPENAI_API_KEY), ``openrouter``
        (``openrouter_model``, ``openrouter_api_key`` or OPENROUTER_API_KEY,
        required), ``groq`` (``groq_model``, ``groq_api_key`` or GROQ_API_KEY,
        served as openai_compatible at Groq's endpoint), ``ollama``, CAAL's
        default (``ollama_host``, ``ollama_model``; served as openai_compatible
        at ``{ollama_host}/v1``, with a logged warning that ``num_ctx`` and
        ``think`` do not carry over and how to set them on the server).
        ``kwargs`` go to the constructor (``worker_path``, ``config``...).
        """
        name = str(settings.get("llm_provider") or "ollama").lower()

        def temperature(default: float) -> float:
            value = settings.get("temperature")
            return float(value) if value is not None else default

        if name == "ollama":
            base_url = _ollama_base_url(settings.get("ollama_host"))
            _warn_ollama_route(base_url, settings.get("num_ctx", 8192), settings.get("think", False))
            return cls(
                provider="openai_compatible",
                model=settings.get("ollama_model") or "qwen3:8b",
                base_url=base_url,
                temperature=temperature(0.15),
                **kwargs,
            )
        if name == "openai_compatible":
            return cls(
                provider="openai_compatible",
                model=settings.get("openai_model") or "gpt-3.5-turbo",
                base_url=settings.get("openai_base_url") or "http://localhost:8000/v1",
                api_key=settings.get("openai_api_key") or os.environ.get("OPENAI_API_KEY"),
                temperature=temperature(0.7),
                **kwargs,
            )
        if name == "openrouter":
            api_key = settings.get("openrouter_api_key") or os.environ.get("OPENROUTER_API_KEY")
            if not api_key:
                raise ValueError(
                    "OpenRouter API key required. Set openrouter_api_key in settings "
                    "or OPENROUTER_API_KEY environment variable."
                )
            return cls(
                provider="openrouter",
                model=settings.get("openrouter_model") or "openai/gpt-4",
                api_key=api_key,
                temperature=temperature(0.7),
                **kwargs,
            )
        if name == "groq":
            api_key = settings.get("groq_api_key") or os.environ.get("GROQ_API_KEY")
            if not api_key:
                raise ValueError(
                    "Groq API key required. Set groq_api_key in settings or GROQ_API_KEY environment variable."
                )
            return cls(
                provider="openai_compatible",
                model=settings.get("groq_model") or "llama-3.3-70b-versatile",
                base_url=GROQ_BASE_URL,
                api_key=api_key,
                temperature=temperature(0.15),
                **kwargs,
            )
        if name == "mock":
            return cls(provider="mock", model=settings.get("mock_model"), temperature=temperature(0.7), **kwargs)
        raise ValueError(
            f"Unknown LLM provider: {name}. "
            "Supported providers: openai_compatible, openrouter, groq and ollama (via openai_compatible), mock"
        )

    # ------------------------------------------------------------ properties
    @property
    def supports_think(self) -> bool:
        """No: the worker has no ``think`` switch (CAAL's default for its providers)."""
        return False

    @property
    def provider_name(self) -> str:
        """The worker's active provider as CAAL spells it, so CAAL's logs read as before."""
        return self._provider

    @property
    def model(self) -> str:
        if self._model:
            return self._model
        effective: Mapping[str, Any] = self._client.effective_config or {}
        return str(effective.get("model") or "")

    @property
    def temperature(self) -> float | None:
        return self._temperature

    @property
    def base_url(self) -> str | None:
        return self._base_url

    @property
    def client(self) -> WorkerClient:
        """The underlying :class:`WorkerClient` (for list_models, probe, ping...)."""
        return self._client

    # ------------------------------------------------------------- plumbing
    async def _ready(self) -> None:
        # A shared client gets this provider's settings once, before first use.
        if not self._configured:
            await self._client.configure(self._worker_config)
            self._configured = True

    @staticmethod
    def _call_options(kwargs: dict[str, Any]) -> dict[str, Any]:
        options = {k: kwargs[k] for k in _CALL_OPTIONS if kwargs.get(k) is not None}
        ignored = sorted(k for k in kwargs if k not in _CALL_OPTIONS and k != "tool_choice")
        if ignored:
            logger.debug("WorkerProvider ignores options %s", ", ".join(ignored))
        return options

    @staticmethod
    def _usage(result: Mapping[str, Any] | None) -> Any:
        usage = result.get("usage") if result else None
        if not isinstance(usage, dict):
            return None
        return _types().TokenUsage(
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        )

    def _response(self, result: Mapping[str, Any]) -> LLMResponse:
        kinds = _types()
        tool_calls = []
        for index, call in enumerate(result.get("tool_calls") or []):
            arguments = call.get("arguments")
            if not isinstance(arguments, dict):
                arguments = call.get("arguments_raw", arguments)
            tool_calls.append(
                kinds.ToolCall(
                    id=call.get("id") or f"call_{index}",
                    name=call.get("name") or "",
                    arguments=self.parse_tool_arguments(arguments),
                )
            )
        usage = self._usage(result)
        if kinds.response_has_usage:
            return kinds.LLMResponse(content=result.get("content"), tool_calls=tool_calls, usage=usage)  # type: ignore[no-any-return]
        return kinds.LLMResponse(content=result.get("content"), tool_calls=tool_calls)  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ chat
    async def chat(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> LLMResponse:
        """Non-streaming completion, ``tool_choice: "auto"`` when tools are given.

        Accepts ``model``, ``temperature``, ``max_tokens``, ``extra``,
        ``tool_choice`` and ``timeout`` per call.  Raises the typed
        :mod:`caal_llm_worker.errors` exceptions on failure.
        """
        options = self._call_options(kwargs)
        tool_choice = (kwargs.get("tool_choice") or "auto") if tools else None
        self._last_usage = None
        await self._ready()
        result = await self._client.chat(messages, tools=tools or None, tool_choice=tool_choice, **options)
        response = self._response(result)
        self._last_usage = self._usage(result)
        return response

    async def chat_stream(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[str]:
        """Stream the answer's text; reasoning and tool-call deltas never reach the caller.

        When tools are given (CAAL passes them so tool calls in the history
        validate) ``tool_choice`` is ``"none"``: some servers would otherwise
        answer with a tool call and the assistant would say nothing.  Leaving
        the iteration early, or cancelling the task, cancels the request
        upstream.  ``timeout`` (seconds) bounds the whole stream: when it runs
        out the request is cancelled and :class:`~caal_llm_worker.errors.
        WorkerTimeoutError` is raised.  ``_last_usage`` is set when the stream
        completes.
        """
        reply = StreamedReply(self, messages, tools or None, "none" if tools else None, self._call_options(kwargs))
        try:
            async for piece in reply:
                yield piece
        finally:
            reply.cancel()  # a no-op once finished; barge-in otherwise

    def chat_stream_with_tools(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> StreamedReply:
        """One streamed request with the tools offered (``tool_choice: "auto"``): a round of a streamed tool loop.

        Iterate the returned :class:`StreamedReply` (once) for the answer's
        text as it arrives; reasoning and tool-call fragments never reach the
        caller.  When the iteration has ended, ``reply.response`` is the whole
        ``LLMResponse`` (content, tool calls with parsed arguments, usage) and
        ``_last_usage`` is set.  ``reply.cancel()`` stops the request.  Accepts
        the per-call options of :meth:`chat`, ``tool_choice`` included.
        """
        tool_choice = (kwargs.get("tool_choice") or "auto") if tools else None
        return StreamedReply(self, messages, tools or None, tool_choice, self._call_options(kwargs))

    async def warm(self, *, timeout: float | None = None) -> dict[str, Any]:
        """Have the worker re-open its upstream connection if the pooled one may be gone; best effort.

        Meant to be started, not awaited, when the user starts speaking, so
        that the answer's request finds an open connection.  The worker's
        answer is returned (``{"ok", "ms", "reused", ...}``).  Never raises a
        :class:`~caal_llm_worker.errors.WorkerError`: a failure (a worker
        without ``warm`` included) comes back in the same shape, ``{"ok":
        False, ..., "error": {"code", "kind", "message", "status"}}``, and
        nothing else is affected.
        """
        try:
            await self._ready()
            return dict(await self._client.warm(timeout=timeout))
        except WorkerError as exc:
            logger.debug("warm failed: %r", exc)
            error = {"code": exc.code, "kind": exc.kind, "message": str(exc), "status": exc.status}
            return {"ok": False, "provider": self._provider, "ms": None, "reused": None, "status": None, "error": error}

    # ------------------------------------------------------------- tool helpers
    def prepare_tools(self, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Tools are already in OpenAI format, which is what the worker forwards."""
        return tools

    def parse_tool_arguments(self, arguments: Any) -> dict[str, Any]:
        """The worker already gives a dict; JSON strings are parsed for callers who pass raw ones."""
        if isinstance(arguments, dict):
            return arguments
        if isinstance(arguments, str):
            try:
                parsed = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError:
                logger.warning("Failed to parse tool arguments: %s", arguments)
                return {}
            return parsed if isinstance(parsed, dict) else {}
        return {}

    def format_tool_result(self, content: str, tool_call_id: str | None, tool_name: str) -> dict[str, Any]:
        """OpenAI format: role ``tool`` with ``tool_call_id`` and ``name``."""
        return {"role": "tool", "content": content, "tool_call_id": tool_call_id, "name": tool_name}

    def format_tool_call_message(self, content: str | None, tool_calls: list[Any]) -> dict[str, Any]:
        """Assistant message with tool calls, arguments as a JSON string (OpenAI wire format)."""
        return {
            "role": "assistant",
            "content": content or "",
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {
                        "name": call.name,
                        "arguments": json.dumps(call.arguments)
                        if isinstance(call.arguments, dict)
                        else str(call.arguments),
                    },
                }
                for call in tool_calls
            ],
        }

    # ------------------------------------------------------------------ extras
    async def list_models(self, *, supports_tools: bool | None = None, refresh: bool | None = None) -> list[ModelInfo]:
        """The provider's models (for a settings page's model picker)."""
        await self._ready()
        result = await self._client.list_models(supports_tools=supports_tools, refresh=refresh)
        return list(result.get("models") or [])

    async def probe(self) -> ProbeResult:
        """End-to-end test of this configuration (models, chat, stream, tools)."""
        await self._ready()
        return await self._client.probe(self._worker_config)

    async def aclose(self) -> None:
        """Stop the worker this provider started (a shared client is left alone)."""
        if self._owns_client:
            await self._client.close()


class StreamedReply:
    """A streamed answer whose tool calls are known once it has ended.

    Made by :meth:`WorkerProvider.chat_stream_with_tools` (and used by
    :meth:`WorkerProvider.chat_stream`).  Iterating it sends the request and
    yields the non-empty content pieces; afterwards :attr:`response` holds the
    ``LLMResponse`` built from the final ChatResult (None if the stream was
    cancelled).  :meth:`cancel` stops the request at once.
    """

    def __init__(
        self,
        provider: WorkerProvider,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        tool_choice: Any,
        options: dict[str, Any],
    ) -> None:
        self._provider = provider
        self._request = (messages, tools, tool_choice, options)
        self._stream: ChatStream | None = None
        self.response: Any = None

    def __aiter__(self) -> AsyncIterator[str]:
        return self._content()

    async def _content(self) -> AsyncIterator[str]:
        provider = self._provider
        messages, tools, tool_choice, options = self._request
        provider._last_usage = None
        await provider._ready()
        stream = provider._client.chat_stream(messages, tools=tools, tool_choice=tool_choice, **options)
        self._stream = stream
        try:
            async for delta in stream:
                piece = delta.get("content")
                if piece:
                    yield piece
            if stream.result is not None:
                self.response = provider._response(stream.result)
                provider._last_usage = provider._usage(stream.result)
        finally:
            stream.cancel()

    def cancel(self) -> None:
        """Stop the request if it still runs (synchronous: safe in ``finally``)."""
        if self._stream is not None:
            self._stream.cancel()


def _note_background_start(task: asyncio.Task[None]) -> None:
    # Retrieved here so asyncio never reports it as lost; the first call starts the worker again
    # and raises the same error to its caller.
    if not task.cancelled() and task.exception() is not None:
        logger.debug("starting the worker in the background failed: %r", task.exception())


def create_provider_from_settings(settings: Mapping[str, Any], **kwargs: Any) -> WorkerProvider:
    """Drop-in for CAAL's function of the same name (see :meth:`WorkerProvider.from_settings`)."""
    return WorkerProvider.from_settings(settings, **kwargs)


# CAAL already imported (its base complete): register now, so that issubclass
# holds before the first instance too.
_loaded_base = sys.modules.get(_CAAL_BASE_MODULE)
if _loaded_base is not None and not getattr(getattr(_loaded_base, "__spec__", None), "_initializing", False):
    _types()
del _loaded_base


if TYPE_CHECKING:
    LLMResponse = _LocalLLMResponse
    ToolCall = _LocalToolCall
    TokenUsage = _LocalTokenUsage
    USING_CAAL_TYPES: bool


def __getattr__(name: str) -> Any:
    # PEP 562: the CAAL-dependent names are resolved on first use (see _types).
    if name in ("LLMResponse", "ToolCall", "TokenUsage"):
        value: Any = getattr(_types(), name)
    elif name == "USING_CAAL_TYPES":
        value = _types().using_caal
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | {"LLMResponse", "ToolCall", "TokenUsage", "USING_CAAL_TYPES"})
