#!/usr/bin/env python3
"""One check of the release test: runs a worker command and judges what it prints.

    release_check.py SCENARIO --version V [--base-url URL] -- COMMAND [ARGS...]

COMMAND is how to start the worker in the environment under test (a chroot, a namespace with the
toolchain hidden, ...); the scenario adds its own arguments after it. Scenarios:

  version      `COMMAND --version` prints "caal-llm-worker V ..." and exits 0
  ping         `ping` answers {ok: true, version: V}
  mock-stream  configure the mock provider, chatStream: deltas in order, before the response,
               concatenating to the final content
  http-stream  the same through the openai_compatible provider against the SSE stub at --base-url
               (exit 77 = skipped, when this build's openai_compatible provider is not implemented yet)

Prints one line saying what was seen; exits 0 on success, 1 on failure, 77 when skipped.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading

SKIP = 77
STUB_ANSWER = "Hello from the release stub."
TIMEOUT_S = 60


class CheckFailed(Exception):
    pass


class Skipped(Exception):
    pass


def run(command: list[str], lines: list[dict] | None, args: list[str] = ()) -> tuple[int, str, str]:
    """Starts the worker, sends `lines`, and keeps its stdin open (as CAAL does) until every request among
    them is answered; then closes stdin and waits for the exit. Returns (exit status, stdout, stderr)."""
    if lines is None:
        try:
            proc = subprocess.run(command + list(args), stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise CheckFailed(f"did not finish within {TIMEOUT_S} s")
        return proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")

    waiting = {line["id"] for line in lines if "id" in line}
    proc = subprocess.Popen(command + list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    out_lines: list[str] = []
    err_chunks: list[bytes] = []
    answered = threading.Event()

    def read_stdout() -> None:
        for raw in proc.stdout:
            text = raw.decode(errors="replace")
            out_lines.append(text)
            try:
                message = json.loads(text)
            except ValueError:
                continue
            if isinstance(message, dict) and ("result" in message or "error" in message):
                waiting.discard(message.get("id"))
                if not waiting:
                    answered.set()
        answered.set()  # end of output: nothing more will come

    readers = [threading.Thread(target=read_stdout, daemon=True),
               threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True)]
    for reader in readers:
        reader.start()
    try:
        proc.stdin.write("".join(json.dumps(line) + "\n" for line in lines).encode())
        proc.stdin.flush()
        if not answered.wait(TIMEOUT_S):
            raise CheckFailed(f"no answer to {sorted(map(str, waiting))} within {TIMEOUT_S} s")
        proc.stdin.close()
        status = proc.wait(timeout=TIMEOUT_S)
    except (BrokenPipeError, subprocess.TimeoutExpired) as exc:
        proc.kill()
        proc.wait()
        for reader in readers:
            reader.join(5)
        raise CheckFailed(f"{type(exc).__name__}; stderr: {b''.join(err_chunks).decode(errors='replace')[-500:]}")
    for reader in readers:
        reader.join(5)
    return status, "".join(out_lines), b"".join(err_chunks).decode(errors="replace")


def messages(stdout: str) -> list[dict]:
    out = []
    for line in stdout.splitlines():
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            raise CheckFailed(f"stdout line is not JSON: {line[:200]!r}")
    return out


def require(condition: bool, problem: str) -> None:
    if not condition:
        raise CheckFailed(problem)


def check_version(command: list[str], version: str, _: argparse.Namespace) -> str:
    status, stdout, stderr = run(command, None, ["--version"])
    require(status == 0, f"--version exited {status}; stderr: {stderr[-500:]}")
    words = stdout.split()
    require(words[:2] == ["caal-llm-worker", version], f"--version printed {stdout.strip()!r}, expected 'caal-llm-worker {version} ...'")
    return stdout.strip()


def check_ping(command: list[str], version: str, _: argparse.Namespace) -> str:
    status, stdout, stderr = run(command, [{"jsonrpc": "2.0", "id": 1, "method": "ping"}])
    require(status == 0, f"exited {status} at end of input; stderr: {stderr[-500:]}")
    got = messages(stdout)
    require(len(got) == 1, f"expected one response, got {stdout!r}")
    result = got[0].get("result") or {}
    require(got[0].get("id") == 1 and result.get("ok") is True, f"bad ping response {got[0]}")
    require(result.get("version") == version, f"ping version {result.get('version')!r} != {version!r}")
    return json.dumps(got[0])


def stream(command: list[str], configure: dict, content: str, expected: str | None) -> tuple[str, dict]:
    requests = [
        {"jsonrpc": "2.0", "id": 1, "method": "configure", "params": configure},
        {"jsonrpc": "2.0", "id": "s", "method": "chatStream",
         "params": {"messages": [{"role": "user", "content": content}]}},
    ]
    status, stdout, stderr = run(command, requests)
    got = messages(stdout)
    responses = {m.get("id"): m for m in got if "id" in m}
    require(1 in responses, f"no configure response; stdout {stdout[-500:]!r}; stderr {stderr[-500:]!r}")
    if "error" in responses[1]:
        raise CheckFailed(f"configure failed: {responses[1]['error']}")
    final = responses.get("s")
    require(final is not None, f"no chatStream response; exit {status}; stderr {stderr[-800:]!r}")
    if "error" in final:
        error = final["error"]
        if error.get("code") == -32010 and "not available in this build" in error.get("message", ""):
            raise Skipped(f"{configure.get('provider')} is not implemented in this build yet: {error['message']}")
        raise CheckFailed(f"chatStream failed: {error}; stderr {stderr[-800:]!r}")
    require(status == 0, f"exited {status} at end of input; stderr: {stderr[-500:]}")

    deltas = [m["params"] for m in got if m.get("method") == "chatStream.delta" and m["params"].get("id") == "s"]
    require(len(deltas) >= 2, f"expected a stream of deltas, got {len(deltas)}")
    require([d["index"] for d in deltas] == list(range(len(deltas))), "delta indexes are not 0, 1, 2, ...")
    position_of_final = got.index(final)
    require(all(got.index(m) < position_of_final for m in got if m.get("method") == "chatStream.delta"),
            "a delta came after the final response")
    streamed = "".join(d.get("content", "") for d in deltas)
    result = final["result"]
    require(streamed == result.get("content"), f"deltas {streamed!r} != final content {result.get('content')!r}")
    if expected is not None:
        require(result.get("content") == expected, f"content {result.get('content')!r} != {expected!r}")
    return streamed, result


def check_mock_stream(command: list[str], version: str, _: argparse.Namespace) -> str:
    streamed, result = stream(command, {"provider": "mock"}, "hello there", "You said: hello there")
    return f"{len(streamed)} chars streamed, final content {result['content']!r}, finish_reason {result.get('finish_reason')!r}"


def check_http_stream(command: list[str], version: str, options: argparse.Namespace) -> str:
    require(bool(options.base_url), "--base-url is required for http-stream")
    configure = {"provider": "openai_compatible", "base_url": options.base_url, "model": "stub-model",
                 "api_key": "sk-release-test"}
    streamed, result = stream(command, configure, "say hello", STUB_ANSWER)
    return (f"{streamed!r} streamed from {options.base_url}, model {result.get('model')!r}, "
            f"finish_reason {result.get('finish_reason')!r}, usage {result.get('usage')}")


SCENARIOS = {
    "version": check_version,
    "ping": check_ping,
    "mock-stream": check_mock_stream,
    "http-stream": check_http_stream,
}


def main() -> int:
    argv = sys.argv[1:]
    if "--" not in argv:
        print(__doc__, file=sys.stderr)
        return 2
    split = argv.index("--")
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--version", required=True)
    parser.add_argument("--base-url")
    options = parser.parse_args(argv[:split])
    command = argv[split + 1:]
    try:
        print(SCENARIOS[options.scenario](command, options.version, options))
        return 0
    except Skipped as skip:
        print(f"skipped: {skip}")
        return SKIP
    except CheckFailed as failure:
        print(f"failed: {failure}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
