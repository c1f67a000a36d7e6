"""Command line: send one prompt through the worker and print the streamed answer.

For trying a configuration by hand before putting it into CAAL::

    python3 -m caal_llm_worker --provider mock "Hello there"
    python3 -m caal_llm_worker --provider openai_compatible \\
        --base-url http://localhost:11434/v1 --model qwen3:8b "What time is it in Paris?"
    python3 -m caal_llm_worker --provider openrouter --list-models --supports-tools
    python3 -m caal_llm_worker --provider openai_compatible --base-url http://localhost:1234/v1 --probe

The answer goes to stdout as it streams; everything else (reasoning with
``--show-reasoning``, the timing/usage summary, errors, worker logs) goes to
stderr, so stdout can be piped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

from .client import WorkerClient
from .errors import WorkerError

API_KEY_ENV = "CAAL_LLM_API_KEY"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python3 -m caal_llm_worker",
        description="Send one prompt through caal-llm-worker and print the streamed answer.",
    )
    parser.add_argument("prompt", nargs="*", help="the prompt (default: read from stdin)")
    parser.add_argument("--worker", metavar="PATH", help="worker binary (default: $CAAL_LLM_WORKER, PATH, repo build)")
    parser.add_argument("--provider", choices=["openai_compatible", "openrouter", "mock"], help="provider to use")
    parser.add_argument("--model", help="model name")
    parser.add_argument("--base-url", help="server URL, e.g. http://localhost:8000/v1")
    parser.add_argument(
        "--api-key",
        default=os.environ.get(API_KEY_ENV),
        help=f"API key (default: ${API_KEY_ENV}; the worker itself falls back to OPENAI_API_KEY / OPENROUTER_API_KEY)",
    )
    parser.add_argument("--system", metavar="TEXT", help="system prompt")
    parser.add_argument("--temperature", type=float)
    parser.add_argument("--max-tokens", type=int)
    parser.add_argument("--max-retries", type=int, help="upstream retries (worker default 2)")
    parser.add_argument("--no-stream", action="store_true", help="use chat instead of chatStream")
    parser.add_argument("--show-reasoning", action="store_true", help="print reasoning deltas to stderr")
    parser.add_argument("--list-models", action="store_true", help="list the provider's models and exit")
    parser.add_argument("--supports-tools", action="store_true", help="with --list-models: only tool-capable models")
    parser.add_argument("--probe", action="store_true", help="test the configuration end to end and exit")
    parser.add_argument("--json", action="store_true", help="print the raw JSON result on stdout (instead of the text)")
    parser.add_argument(
        "--log-level",
        choices=["error", "warn", "info", "debug"],
        default="warn",
        help="worker log level (its stderr is shown through Python logging)",
    )
    return parser


def _configuration(args: argparse.Namespace) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for key in ("provider", "model", "base_url", "api_key", "temperature", "max_tokens", "max_retries"):
        value = getattr(args, key)
        if value is not None:
            config[key] = value
    return config


def _summary(result: Mapping[str, Any]) -> str:
    parts = [str(result.get("model") or result.get("provider") or "?")]
    usage = result.get("usage")
    if isinstance(usage, dict):
        parts.append(f"{usage.get('prompt_tokens')} prompt + {usage.get('completion_tokens')} completion tokens")
        if usage.get("cost") is not None:
            parts.append(f"${usage['cost']}")
    timing = result.get("timing") or {}
    if timing.get("ttft_ms") is not None:
        parts.append(f"first token {timing['ttft_ms']:.0f} ms")
    if timing.get("total_ms") is not None:
        parts.append(f"total {timing['total_ms']:.0f} ms")
    if result.get("finish_reason"):
        parts.append(f"finish {result['finish_reason']}")
    return "[" + ", ".join(parts) + "]"


async def _run(args: argparse.Namespace, prompt: str | None) -> int:
    client = WorkerClient(args.worker, args=["--log-level", args.log_level])
    try:
        config = _configuration(args)
        if config:
            await client.configure(config)
        if args.list_models:
            models = await client.list_models(supports_tools=True if args.supports_tools else None)
            if args.json:
                print(json.dumps(models, indent=2))
            else:
                for model in models.get("models", []):
                    extra = f"  {model['name']}" if model.get("name") and model.get("name") != model["id"] else ""
                    print(f"{model['id']}{extra}")
            return 0
        if args.probe:
            probe = await client.probe()
            print(json.dumps(probe, indent=2))
            return 0 if probe.get("ok") else 1

        messages: list[dict[str, Any]] = []
        if args.system:
            messages.append({"role": "system", "content": args.system})
        messages.append({"role": "user", "content": prompt or ""})

        # With --json, stdout carries the result object alone (for jq and scripts); the text is in it.
        text_out = None if args.json else sys.stdout
        result: Mapping[str, Any]
        if args.no_stream:
            result = await client.chat(messages)
            if args.show_reasoning and result.get("reasoning"):
                print(result["reasoning"], file=sys.stderr)
            if text_out:
                print(result.get("content") or "", file=text_out)
        else:
            stream = client.chat_stream(messages)
            reasoning_open = False
            async with stream:
                async for delta in stream:
                    if args.show_reasoning and delta.get("reasoning"):
                        sys.stderr.write(delta["reasoning"])
                        sys.stderr.flush()
                        reasoning_open = True
                    if delta.get("content"):
                        if reasoning_open:
                            sys.stderr.write("\n")
                            reasoning_open = False
                        if text_out:
                            text_out.write(delta["content"])
                            text_out.flush()
            result = stream.result or dict[str, Any]()
            if reasoning_open:
                sys.stderr.write("\n")
            if text_out:
                text_out.write("\n")
        for call in result.get("tool_calls") or []:
            print(f"tool call {call.get('name')}({json.dumps(call.get('arguments'))})", file=sys.stderr)
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            print(_summary(result), file=sys.stderr)
        return 0
    except WorkerError as exc:
        status = f", status {exc.status}" if exc.status is not None else ""
        print(f"\nerror ({exc.kind}{status}): {exc.message}", file=sys.stderr)
        return 1
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    levels = {"error": logging.ERROR, "warn": logging.WARNING, "info": logging.INFO, "debug": logging.DEBUG}
    logging.basicConfig(level=levels[args.log_level], format="%(message)s")
    prompt: str | None = " ".join(args.prompt) if args.prompt else None
    if prompt is None and not (args.list_models or args.probe):
        if sys.stdin.isatty():
            build_parser().error("give a prompt (or pipe one on stdin)")
        prompt = sys.stdin.read().strip()
        if not prompt:
            build_parser().error("the prompt on stdin is empty")
    try:
        return asyncio.run(_run(args, prompt))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
