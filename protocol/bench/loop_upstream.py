"""The upstream of the voice-loop benchmark (caal_loop.py): servers.py's server, plus what a tool loop needs.

On top of servers.py's `UpstreamConnection` (paced SSE, stats per tag), with the same `model` spec:
  * `tool=NAME`: a request that offers tools (and whose tool_choice is not "none") and has no tool result
    after its last user message is answered with one call of NAME, streamed or not, paced like tokens;
  * a non-streamed answer comes when its stream would have ended (`first` + `interval` per further token),
    as a model's would, and its stats record the first token at `first` after the request;
  * the stats tag may also come from the last user message (`[tag=...]`), so one provider (one model
    name) can be measured turn by turn;
  * the idle close of servers.py (`idle_close_s`), set from `--idle-close`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import measure
import servers

TOOL_CALL_ID = "call_bench"
TOOL_ARGUMENTS = '{"city": "Paris"}'
TOOL_PIECES = [TOOL_ARGUMENTS[i:i + 6] for i in range(0, len(TOOL_ARGUMENTS), 6)]


def tag_of(request: dict[str, Any]) -> str | None:
    for message in reversed(request.get("messages") or []):
        if message.get("role") == "user":
            _, found, rest = str(message.get("content")).partition("[tag=")
            return rest.split("]", 1)[0] if found else None
    return None


def wants_tool_call(request: dict[str, Any], spec: dict[str, Any]) -> bool:
    if not spec.get("tool") or not request.get("tools") or request.get("tool_choice") == "none":
        return False
    messages = request.get("messages") or []
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    return not any(m.get("role") == "tool" for m in messages[last_user + 1:])


def _delta_event(delta: dict[str, Any], finish: bytes = b"null") -> bytes:
    return servers._frame(servers._event(json.dumps(delta, separators=(",", ":")).encode(), finish))


class LoopUpstreamConnection(servers.UpstreamConnection):
    # -- answers -----------------------------------------------------------------------------------
    def answer(self, request: dict[str, Any], spec: dict[str, Any]) -> None:
        if self.closed:
            return
        spec = dict(spec, tag=spec["tag"] or tag_of(request))
        if wants_tool_call(request, spec):
            self.call_tool(request, spec)
        elif request.get("stream"):
            super().answer(request, spec)
        else:
            self.complete_later(request, spec)

    def complete_later(self, request: dict[str, Any], spec: dict[str, Any]) -> None:
        """A non-streamed answer, sent when the same answer streamed would have ended."""
        t = measure.now_ns()
        if spec["tag"]:
            self.state.stats[spec["tag"]] = {"t_request": t, "t_first": t + int(spec["first"] * 1e6), "t_last": None,
                                             "t_closed": None, "sent": spec["n"], "complete": True}
        delay_ms = spec["first"] + spec["interval"] * (spec["n"] - 1)
        self.timer = asyncio.get_running_loop().call_later(delay_ms / 1000, servers.UpstreamConnection.answer, self,
                                                           request, dict(spec, interval=0, first=0))

    def call_tool(self, request: dict[str, Any], spec: dict[str, Any]) -> None:
        """One call of spec["tool"]: a header token, then the arguments in pieces, `interval` apart."""
        loop = asyncio.get_running_loop()
        delay_ms = spec["first"] + spec["interval"] * len(TOOL_PIECES)
        if not request.get("stream"):
            call = {"id": TOOL_CALL_ID, "type": "function", "function": {"name": spec["tool"], "arguments": TOOL_ARGUMENTS}}
            body = {"id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000, "model": "bench",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": None, "tool_calls": [call]},
                                 "finish_reason": "tool_calls"}],
                    "usage": {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20}}
            self.timer = loop.call_later(delay_ms / 1000, self.reply_json, body)
            return
        header = {"index": 0, "id": TOOL_CALL_ID, "type": "function", "function": {"name": spec["tool"], "arguments": ""}}
        frames = [_delta_event({"tool_calls": [header]})]
        frames += [_delta_event({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}) for piece in TOOL_PIECES]
        frames.append(_delta_event({}, b'"tool_calls"') + servers._frame(servers.USAGE_EVENT % (8, 20))
                      + servers._frame(servers.DONE_EVENT) + b"0\r\n\r\n")
        self.streaming = True
        self.transport.write(self.HEAD_OK + servers._frame(servers.ROLE_EVENT))
        self.timer = loop.call_later(spec["first"] / 1000, self.send_frames, frames, spec["interval"])

    def send_frames(self, frames: list[bytes], interval_ms: float) -> None:
        if self.closed:
            return
        self.transport.write(frames[0])
        if len(frames) > 2:
            self.timer = asyncio.get_running_loop().call_later(interval_ms / 1000, self.send_frames, frames[1:], interval_ms)
        else:
            self.transport.write(frames[1])  # the finish, usage and end of the body come with the last token
            self.streaming = False
            self.arm_idle_close()
