"""The shapes of the worker's results, as ``TypedDict``s, for editors and type checkers.

Each one is PROTOCOL.md §5 (and ``openrpc.json``'s ``components.schemas``) written
in Python: a member that is "always present" is a required key, ``Optional`` where
its value may be null; a member that "may be absent" is a key of the ``total=False``
part.  At run time they are plain dicts, exactly as the worker wrote them::

    from caal_llm_worker.results import ChatResult

    result: ChatResult = await client.chat(messages)
    for call in result["tool_calls"]:
        print(call["name"], call["arguments"])

``ToolCall`` and ``Usage`` here are the worker's JSON shapes; the provider's
``caal_llm_worker.ToolCall`` / ``TokenUsage`` are CAAL's dataclasses.
"""

from __future__ import annotations

# Optional[...] and typing's generics, not ``X | None``: typing.get_type_hints
# evaluates these annotations, on Python 3.9 too.
from typing import Any, Dict, List, Optional, TypedDict, Union

__all__ = [
    "ChatResult",
    "ToolCall",
    "Usage",
    "Timing",
    "StreamDelta",
    "ToolCallFragment",
    "Configuration",
    "ModelInfo",
    "Pricing",
    "ListModelsResult",
    "ProbeResult",
    "ProbeChecks",
    "ProbeCheck",
    "ModelsCheck",
    "StreamCheck",
    "ToolsCheck",
    "ProbeCheckError",
    "WarmResult",
    "CancelResult",
    "PingResult",
    "ShutdownResult",
]


class ToolCall(TypedDict):
    """A tool call of a ChatResult: ``arguments`` always an object, ``arguments_raw`` as received."""

    id: str
    name: str
    arguments: Dict[str, Any]
    arguments_raw: str


class _UsageCounts(TypedDict):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class Usage(_UsageCounts, total=False):
    """Token counts; ``cost`` only when the upstream reported one (OpenRouter: USD)."""

    cost: float


class Timing(TypedDict):
    """Milliseconds from reading the request line: to the first delta (null if none), to the result."""

    ttft_ms: Optional[float]
    total_ms: float


class ChatResult(TypedDict):
    """The result of ``chat`` and the final result of ``chatStream``; every member always present."""

    content: Optional[str]
    reasoning: Optional[str]
    tool_calls: List[ToolCall]
    finish_reason: Optional[str]
    usage: Optional[Usage]
    model: Optional[str]
    provider: str
    upstream_provider: Optional[str]
    timing: Timing
    warnings: List[str]


class _FragmentIndex(TypedDict):
    index: int


class ToolCallFragment(_FragmentIndex, total=False):
    """A piece of a streamed tool call; ``id`` and ``name`` come with a call's first fragment."""

    id: str
    name: str
    arguments: str


class _DeltaPosition(TypedDict):
    id: Union[str, int, None]
    index: int


class StreamDelta(_DeltaPosition, total=False):
    """The params of a ``chatStream.delta`` notification: at least one of the optional members, non-empty."""

    content: str
    reasoning: str
    tool_calls: List[ToolCallFragment]


class Configuration(TypedDict):
    """The result of ``configure``: the active provider's effective settings (the key never echoed)."""

    provider: str
    model: Optional[str]
    base_url: Optional[str]
    api_key_set: bool
    api_key_source: Optional[str]
    headers: Dict[str, str]
    temperature: Optional[float]
    max_tokens: Optional[int]
    app_url: str
    app_title: str
    fallback_models: List[str]
    routing: Optional[Dict[str, Any]]
    strip_think: bool
    recover_tool_calls: bool
    connect_timeout_s: float
    first_token_timeout_s: float
    idle_timeout_s: float
    timeout_s: float
    max_retries: int
    max_retry_wait_s: float
    mock: Optional[Dict[str, Any]]
    transport: str
    effective_transport: Optional[str]


class Pricing(TypedDict):
    """USD per million tokens."""

    prompt_per_million: float
    completion_per_million: float


class _ModelId(TypedDict):
    id: str


class ModelInfo(_ModelId, total=False):
    """One model of ``listModels``: only ``id`` is always there; absent and null both mean unknown."""

    name: Optional[str]
    context_length: Optional[int]
    max_completion_tokens: Optional[int]
    pricing: Optional[Pricing]
    supports_tools: Optional[bool]
    owned_by: Optional[str]


class ListModelsResult(TypedDict):
    """The result of ``listModels``; ``cached`` says whether it came from the worker's cache."""

    provider: str
    models: List[ModelInfo]
    cached: bool


class _CheckErrorCore(TypedDict):
    code: int
    kind: str
    message: str


class ProbeCheckError(_CheckErrorCore, total=False):
    """A failed probe check's or warm-up's error, flattened; ``status`` only when there was an HTTP status."""

    status: int


class _CheckCore(TypedDict):
    ok: bool
    ms: float


class ProbeCheck(_CheckCore, total=False):
    """One probe check (the ``chat`` check as it is); ``error`` when it failed."""

    error: ProbeCheckError


class ModelsCheck(ProbeCheck, total=False):
    count: int


class StreamCheck(ProbeCheck, total=False):
    ttft_ms: float


class ToolsCheck(ProbeCheck, total=False):
    """``supported`` false (with ``ok`` true and the server's ``error``) when the server refused tools."""

    supported: bool


class ProbeChecks(TypedDict):
    models: ModelsCheck
    chat: ProbeCheck
    stream: StreamCheck
    tools: ToolsCheck


class ProbeResult(TypedDict):
    ok: bool
    provider: str
    base_url: Optional[str]
    model: Optional[str]
    checks: ProbeChecks
    warnings: List[str]


class WarmResult(TypedDict):
    """The result of ``warm``; a failed connection is reported here (``ok`` false, ``error``), not raised."""

    ok: bool
    provider: str
    ms: float
    reused: Optional[bool]
    status: Optional[int]
    error: Optional[ProbeCheckError]


class CancelResult(TypedDict):
    """The answer to ``cancel`` sent as a request: whether the request was in flight."""

    cancelled: bool


class PingResult(TypedDict):
    ok: bool
    version: str
    in_flight: int


class ShutdownResult(TypedDict):
    ok: bool
