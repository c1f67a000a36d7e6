"""The clients measured, behind one interface: `stream(spec, on_content)` returns when the whole answer is in.

socket / urlsession: the product's Python client (`WorkerClient`, protocol/python), the path CAAL uses, with the
worker's `transport` set to its own HTTP/1.1 client or to URLSession; openai: `AsyncOpenAI` streaming in process,
as CAAL's own providers use it; aiohttp: the SSE stream read and json-decoded directly (the floor).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from measure import MESSAGES, now_ns


# The worker's columns, each named after the `transport` its configure asks for.
WORKER_KINDS = ("socket", "urlsession")
# Not a column: the worker on its mock provider (no HTTP at all), what the pipe and the Python client cost alone.
NO_HTTP = "mock"


class WorkerSide:
    is_worker = True

    def __init__(self, kind: str, binary: Path, base_url: str) -> None:
        from caal_llm_worker import WorkerClient  # the product's own Python client (standard library only)

        self.name = kind
        config = ({"provider": "mock", "mock": {"chunk_chars": 5}} if kind == NO_HTTP else
                  {"provider": "openai_compatible", "base_url": base_url, "model": "bench", "transport": kind})
        self.client = WorkerClient(binary, config=config)

    async def start(self) -> None:
        await self.client.start()

    @property
    def pid(self) -> int | None:
        return self.client.pid

    def reported_transport(self) -> str | None:
        """The transport configure's answer says carries this column's requests (`effective_transport`, else
        `transport`); None from a worker that does not know the setting."""
        config = self.client.effective_config or {}
        return config.get("effective_transport") or config.get("transport")

    async def stream(self, spec: str, on_content: Callable[[str], None] | None = None) -> Any:
        stream = self.client.chat_stream(MESSAGES, model=spec)
        async for delta in stream:
            if on_content is not None:
                text = delta.get("content")
                if text:
                    on_content(text)
        return stream.result

    async def cancel_after_first(self, spec: str, t_cancel: list[int]) -> None:
        stream = self.client.chat_stream(MESSAGES, model=spec)
        async for delta in stream:
            if delta.get("content"):
                t_cancel.append(now_ns())
                stream.cancel()  # writes the `cancel` line right away
                break

    async def close(self) -> None:
        await self.client.close()


class OpenAISide:
    name = "openai"
    is_worker = False

    def __init__(self, base_url: str) -> None:
        from openai import AsyncOpenAI

        # The SDK's defaults (as CAAL uses it), without retries.
        self.client = AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)

    async def start(self) -> None:
        pass

    async def stream(self, spec: str, on_content: Callable[[str], None] | None = None) -> Any:
        stream = await self.client.chat.completions.create(model=spec, messages=MESSAGES, stream=True,
                                                           stream_options={"include_usage": True})
        async for chunk in stream:
            if chunk.choices and on_content is not None:
                text = chunk.choices[0].delta.content
                if text:
                    on_content(text)
        return True

    async def cancel_after_first(self, spec: str, t_cancel: list[int]) -> None:
        stream = await self.client.chat.completions.create(model=spec, messages=MESSAGES, stream=True)
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                t_cancel.append(now_ns())
                await stream.close()
                break

    async def close(self) -> None:
        await self.client.close()


class AiohttpSide:
    name = "aiohttp"
    is_worker = False

    def __init__(self, base_url: str) -> None:
        import aiohttp

        self.url = base_url + "/chat/completions"
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    async def start(self) -> None:
        pass

    async def stream(self, spec: str, on_content: Callable[[str], None] | None = None) -> Any:
        body = {"model": spec, "messages": MESSAGES, "stream": True, "stream_options": {"include_usage": True}}
        async with self.session.post(self.url, json=body) as response:
            async for line in response.content:
                if not line.startswith(b"data:"):
                    continue
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    continue  # read on to the end of the body, so the connection is reused
                chunk = json.loads(payload)
                choices = chunk.get("choices")
                if choices and on_content is not None:
                    text = choices[0].get("delta", {}).get("content")
                    if text:
                        on_content(text)
        return True

    async def cancel_after_first(self, spec: str, t_cancel: list[int]) -> None:
        body = {"model": spec, "messages": MESSAGES, "stream": True}
        response = await self.session.post(self.url, json=body)
        async for line in response.content:
            if not line.startswith(b"data:") or line.startswith(b"data: [DONE]"):
                continue
            choices = json.loads(line[5:]).get("choices")
            if choices and choices[0].get("delta", {}).get("content"):
                t_cancel.append(now_ns())
                response.close()  # closes the connection
                break

    async def close(self) -> None:
        await self.session.close()


def make_side(kind: str, binary: Path, base_url: str):
    if kind in WORKER_KINDS or kind == NO_HTTP:
        return WorkerSide(kind, binary, base_url)
    if kind == "openai":
        return OpenAISide(base_url)
    return AiohttpSide(base_url)
