"""CAAL's voice loop with every round streamed: ``llm_node`` for a :class:`WorkerProvider`.

CAAL's own ``caal.llm.llm_node.llm_node`` asks for a non-streamed answer
whenever tools are offered (always, in CAAL), so the first word of an answer
waits for the whole completion.  This ``llm_node`` has the same signature and
takes the same decisions, with CAAL's own helpers (message building, tool
discovery, tool execution, usage and tool-status callbacks, markdown
stripping), but every round is one streamed request with the tools offered:
text is handed to text-to-speech as it arrives, and the tool calls are read
from the round's final result.  Switching CAAL to it is one import in its
agent::

    # before: from caal.llm import llm_node
    from caal_llm_worker.llm_node import llm_node

Where CAAL's loop and this one differ, on purpose:

* Text a model says in a round that then calls tools ("Let me check the
  weather") is spoken, as it streams; CAAL's loop drops it from speech.  It
  goes into the conversation exactly as in CAAL's loop.
* Text spoken cannot be taken back: when a round fails after some text was
  spoken, CAAL's fallbacks (retry, answer without tools, the error sentence)
  are spoken after it.
* When one request's text follows another's, a space separates them if
  neither side has one ("...weather." + "It is sunny" would run together).
* ``_on_usage`` of a direct answer is called after its text, since the usage
  is known only at the end of the stream; CAAL calls it before.

CAAL is imported when the loop runs, never at import time, so this module
imports without CAAL; calling it without CAAL raises :class:`ImportError`
saying so.  A provider without streamed tool rounds (one of CAAL's own) is
handed to CAAL's ``llm_node`` unchanged.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import AsyncIterator, Callable
from types import ModuleType
from typing import Any

__all__ = ["llm_node", "CAAL_LLM_NODE_MODULE", "MAX_TOOL_ROUNDS"]

logger = logging.getLogger("caal_llm_worker.llm_node")

CAAL_LLM_NODE_MODULE = "caal.llm.llm_node"

#: CAAL's own limit of tool rounds per turn.
MAX_TOOL_ROUNDS = 5

# What CAAL's loop reads in a failed tool round's error to decide to retry it.
_GARBLED_MARKERS = ("tool_use_failed", "Failed to call a function", "[/THINK]", "[TOOL_CALLS]", "<function=")


def _caal() -> ModuleType:
    """CAAL's ``llm_node`` module (``caal.llm`` re-exports the function under the module's name)."""
    try:
        return importlib.import_module(CAAL_LLM_NODE_MODULE)
    except ImportError as exc:
        raise ImportError(
            f"caal_llm_worker.llm_node runs CAAL's own tool helpers, but {CAAL_LLM_NODE_MODULE} could not be "
            f"imported ({exc}). Run it inside CAAL, with CAAL's src directory and its dependencies importable."
        ) from exc


class _Speech:
    """What goes to text-to-speech: each piece stripped of markdown as CAAL strips it, requests kept apart."""

    def __init__(self, strip: Callable[[str], str]) -> None:
        self._strip = strip
        self._open_end = False  # the last text spoken ends in a word, not a space
        self._new_request = False

    def next_request(self) -> None:
        self._new_request = True

    def __call__(self, piece: str) -> str:
        return self.as_is(self._strip(piece))

    def as_is(self, text: str) -> str:
        """``text`` unstripped (CAAL speaks its error sentence as it is), kept apart from what came before."""
        if text:
            if self._new_request and self._open_end and not text[0].isspace():
                text = " " + text
            self._new_request = False
            self._open_end = not text[-1].isspace()
        return text


def _round_failure(error: Exception, tool_round: int) -> str:
    """CAAL's reading of a failed tool round: ``"fallback"``, ``"retry"`` or ``"raise"``."""
    message = str(error)
    if "not found" in message:
        logger.warning("LLM called non-existent tool: %s. Falling back to streaming.", message)
        return "fallback"
    if any(marker in message for marker in _GARBLED_MARKERS):
        if tool_round == 0:
            logger.warning("Malformed tool call, retrying: %s", message)
            return "retry"
        logger.warning("Malformed tool call in round %d, streaming final response", tool_round + 1)
        return "fallback"
    return "raise"


async def llm_node(
    agent: Any,
    chat_ctx: Any,
    provider: Any,
    tool_data_cache: Any = None,
    short_term_memory: Any = None,
    max_turns: int = 20,
) -> AsyncIterator[str]:
    """CAAL's ``llm_node``, with every round streamed; yields text chunks for text-to-speech.

    Same arguments as ``caal.llm.llm_node.llm_node``: the agent (its tools,
    ``_on_tool_status``, ``_on_usage``), LiveKit's chat context, the provider
    (a :class:`~caal_llm_worker.provider.WorkerProvider`), CAAL's tool data
    cache and short-term memory, and the sliding window's size.
    """
    caal = _caal()
    if not hasattr(provider, "chat_stream_with_tools"):
        logger.warning(
            "%s has no streamed tool rounds; running CAAL's own llm_node for it", type(provider).__name__
        )
        async for chunk in caal.llm_node(agent, chat_ctx, provider, tool_data_cache, short_term_memory, max_turns):
            yield chunk
        return

    speak = _Speech(caal.strip_markdown_for_tts)
    try:
        messages = caal._build_messages_from_context(
            chat_ctx,
            tool_data_cache=tool_data_cache,
            short_term_memory=short_term_memory,
            max_turns=max_turns,
        )
        tools = await caal._discover_tools(agent, provider)
        if not tools:
            logger.warning("No tools discovered")

        tool_round = 0
        all_tool_names: list[str] = []
        all_tool_params: list[dict[str, Any]] = []

        if tools:
            while tool_round < MAX_TOOL_ROUNDS:
                response = None
                for attempt in (0, 1):
                    reply = provider.chat_stream_with_tools(messages, tools)
                    speak.next_request()
                    try:
                        async for piece in reply:
                            yield speak(piece)
                        response = reply.response
                        break
                    except Exception as error:
                        if attempt == 1:
                            logger.warning("Retry failed, falling back to streaming")
                            break
                        decision = _round_failure(error, tool_round)
                        if decision == "raise":
                            raise
                        if decision == "fallback":
                            break
                    finally:
                        reply.cancel()
                if response is None:
                    break

                if not response.tool_calls:
                    if response.content:
                        # Its text is spoken already; the tool indicator keeps showing the tools used.
                        caal._emit_usage(agent, provider)
                        return
                    break  # neither text nor tool calls: answer without them below

                tool_round += 1
                logger.info("Tool round %d/%d: %d call(s)", tool_round, MAX_TOOL_ROUNDS, len(response.tool_calls))
                all_tool_names.extend(call.name for call in response.tool_calls)
                all_tool_params.extend(call.arguments for call in response.tool_calls)
                if getattr(agent, "_on_tool_status", None):
                    asyncio.create_task(agent._on_tool_status(True, all_tool_names, all_tool_params))

                messages = await caal._execute_tool_calls(
                    agent,
                    messages,
                    response.tool_calls,
                    response.content,
                    provider=provider,
                    tool_data_cache=tool_data_cache,
                    short_term_memory=short_term_memory,
                )

            if tool_round >= MAX_TOOL_ROUNDS:
                logger.warning("Hit max tool rounds (%d), streaming response", MAX_TOOL_ROUNDS)

        # CAAL's final, tool-free stream: after the tool rounds, or when there are no tools.
        if tool_round == 0 and getattr(agent, "_on_tool_status", None):
            asyncio.create_task(agent._on_tool_status(False, [], []))

        speak.next_request()
        if tool_round > 0:
            logger.info("Streaming response after tool execution...")
            try:
                async for piece in provider.chat_stream(messages=messages, tools=tools):
                    yield speak(piece)
            except Exception as stream_error:
                logger.warning("Post-tool streaming failed: %s. Retrying with stripped tool messages...", stream_error)
                speak.next_request()
                async for piece in provider.chat_stream(messages=caal._strip_tool_messages(messages)):
                    yield speak(piece)
        else:
            async for piece in provider.chat_stream(messages=messages):
                yield speak(piece)

        caal._emit_usage(agent, provider)

    except Exception as error:
        logger.error("Error in llm_node: %s", error, exc_info=True)
        speak.next_request()
        yield speak.as_is(f"I encountered an error: {error}")
