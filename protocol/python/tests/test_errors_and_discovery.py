"""Pure-Python units: error mapping and binary discovery (no worker needed)."""

from __future__ import annotations

import asyncio
import os
import stat
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from caal_llm_worker import binary, errors
from caal_llm_worker.errors import error_from_response

# (code, kind) as the contract defines them, with the class each must become.
CONTRACT = [
    (-32001, "auth", errors.AuthError),
    (-32002, "rate_limited", errors.RateLimitError),
    (-32003, "insufficient_credits", errors.InsufficientCreditsError),
    (-32004, "content_blocked", errors.ContentBlockedError),
    (-32005, "not_found", errors.NotFoundError),
    (-32006, "bad_request", errors.BadRequestError),
    (-32006, "context_length", errors.ContextLengthError),
    (-32007, "upstream_error", errors.UpstreamError),
    (-32007, "unavailable", errors.UpstreamError),
    (-32007, "invalid_response", errors.UpstreamError),
    (-32008, "timeout", errors.WorkerTimeoutError),
    (-32009, "connection", errors.WorkerConnectionError),
    (-32010, "not_configured", errors.NotConfiguredError),
    (-32800, "cancelled", errors.RequestCancelled),
    (-32602, "invalid_params", errors.InvalidParamsError),
    (-32700, "parse_error", errors.ProtocolError),
    (-32600, "invalid_request", errors.ProtocolError),
    (-32601, "method_not_found", errors.ProtocolError),
    (-32603, "internal", errors.ProtocolError),
]


class ErrorMappingTests(unittest.TestCase):
    def test_every_contract_kind_maps_to_its_class(self) -> None:
        for code, kind, cls in CONTRACT:
            with self.subTest(kind=kind):
                exc = error_from_response(
                    {
                        "code": code,
                        "message": f"{kind} happened",
                        "data": {"kind": kind, "status": 418, "retryable": True, "provider": "openai_compatible"},
                    }
                )
                self.assertIs(type(exc), cls)
                self.assertIsInstance(exc, errors.WorkerError)
                self.assertEqual((exc.code, exc.kind, exc.status, exc.message), (code, kind, 418, f"{kind} happened"))
                self.assertTrue(exc.retryable)
                self.assertEqual(exc.provider, "openai_compatible")
                self.assertEqual(str(exc), f"{kind} happened")

    def test_code_is_the_fallback_without_kind(self) -> None:
        for code, kind, cls in CONTRACT:
            if kind in ("context_length", "unavailable", "invalid_response", "parse_error", "invalid_request", "method_not_found"):
                continue
            with self.subTest(code=code):
                exc = error_from_response({"code": code, "message": "m"})
                self.assertIsInstance(exc, cls)

    def test_rate_limit_fields_and_partial_content(self) -> None:
        exc = error_from_response(
            {
                "code": -32002,
                "message": "slow down",
                "data": {
                    "kind": "rate_limited",
                    "status": 429,
                    "retryable": True,
                    "retry_after_s": 7,
                    "upstream_message": "Rate limit reached",
                    "attempts": 1,
                    "partial_content": "Hel",
                    "partial_tool_calls": [],
                },
            }
        )
        self.assertIsInstance(exc, errors.RateLimitError)
        self.assertEqual(exc.retry_after_s, 7)
        self.assertEqual(exc.upstream_message, "Rate limit reached")
        self.assertEqual(exc.attempts, 1)
        self.assertEqual(exc.partial_content, "Hel")
        self.assertEqual(exc.partial_tool_calls, [])
        self.assertIn("retry_after_s=7", repr(exc))

    def test_builtin_bases(self) -> None:
        self.assertIsInstance(errors.WorkerTimeoutError(-32008, "t"), TimeoutError)
        self.assertIsInstance(errors.WorkerConnectionError(-32009, "c"), ConnectionError)
        self.assertIsInstance(errors.ContextLengthError(-32006, "c"), errors.BadRequestError)
        # A cancelled *request* must never look like a cancelled *task*.
        self.assertNotIsInstance(errors.RequestCancelled(-32800, "c"), asyncio.CancelledError)

    def test_invalid_params_field(self) -> None:
        exc = error_from_response(
            {"code": -32602, "message": "invalid messages", "data": {"kind": "invalid_params", "field": "messages"}}
        )
        self.assertIsInstance(exc, errors.InvalidParamsError)
        self.assertEqual(exc.field, "messages")

    def test_malformed_error_objects_do_not_crash(self) -> None:
        self.assertIsInstance(error_from_response("boom"), errors.ProtocolError)
        self.assertIsInstance(error_from_response({}), errors.WorkerError)
        exc = error_from_response({"code": "x", "message": 5, "data": {"kind": "weird_new_kind", "status": "500"}})
        self.assertIsInstance(exc, errors.WorkerError)
        self.assertEqual(exc.kind, "weird_new_kind")
        self.assertIsNone(exc.status)
        exc = error_from_response({"code": -32007, "message": "m", "data": {"kind": "brand_new_upstream_kind"}})
        self.assertIsInstance(exc, errors.UpstreamError)


def _make_executable(directory: Path, name: str = "caal-llm-worker") -> Path:
    path = directory / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


class DiscoveryTests(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.dir = Path(self.tmp.name)

    def test_explicit_path_wins(self) -> None:
        (self.dir / "explicit").mkdir()
        explicit = _make_executable(self.dir / "explicit")
        env_dir = self.dir / "env"
        env_dir.mkdir()
        env_binary = _make_executable(env_dir)
        with mock.patch.dict(os.environ, {"CAAL_LLM_WORKER": str(env_binary)}):
            self.assertEqual(binary.find_worker_binary(explicit), str(explicit))

    def test_env_then_path_then_repo_builds(self) -> None:
        env_dir, path_dir, repo = self.dir / "env", self.dir / "path", self.dir / "repo"
        for d in (env_dir, path_dir, repo / ".build" / "release", repo / ".build" / "debug"):
            d.mkdir(parents=True)
        env_binary = _make_executable(env_dir)
        path_binary = _make_executable(path_dir)
        release = _make_executable(repo / ".build" / "release")
        debug = _make_executable(repo / ".build" / "debug")
        with mock.patch.object(binary, "repository_root", return_value=repo):
            with mock.patch.dict(os.environ, {"CAAL_LLM_WORKER": str(env_binary), "PATH": str(path_dir)}):
                self.assertEqual(binary.find_worker_binary(), str(env_binary))
            env = {k: v for k, v in os.environ.items() if k != "CAAL_LLM_WORKER"}
            env["PATH"] = str(path_dir)
            with mock.patch.dict(os.environ, env, clear=True):
                self.assertEqual(binary.find_worker_binary(), str(path_binary))
                os.environ["PATH"] = str(self.dir / "nothing-here")
                self.assertEqual(binary.find_worker_binary(), str(release))
                release.unlink()
                self.assertEqual(binary.find_worker_binary(), str(debug))
                debug.unlink()
                with self.assertRaises(errors.WorkerNotFound) as ctx:
                    binary.find_worker_binary()
                self.assertIn("swift build", str(ctx.exception))

    def test_bad_explicit_or_env_path_is_an_error_not_a_fallthrough(self) -> None:
        with self.assertRaises(errors.WorkerNotFound):
            binary.find_worker_binary(self.dir / "missing")
        with mock.patch.dict(os.environ, {"CAAL_LLM_WORKER": str(self.dir / "missing")}):
            with self.assertRaises(errors.WorkerNotFound) as ctx:
                binary.find_worker_binary()
            self.assertIn("CAAL_LLM_WORKER", str(ctx.exception))

    def test_repository_root_is_this_repository(self) -> None:
        root = binary.repository_root()
        self.assertTrue((root / "protocol" / "python" / "caal_llm_worker" / "binary.py").is_file())


if __name__ == "__main__":
    unittest.main()
