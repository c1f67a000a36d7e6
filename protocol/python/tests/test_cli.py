"""The command-line entry, run as a user would (``python3 -m caal_llm_worker``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unittest
from pathlib import Path

from .support import clean_env, worker_binary

PACKAGE_PARENT = Path(__file__).resolve().parents[1]


class CLITests(unittest.TestCase):
    def setUp(self) -> None:
        path, problem = worker_binary()
        if path is None:
            self.fail(problem)
        self.env = clean_env()
        self.env["CAAL_LLM_WORKER"] = path
        self.env["PYTHONPATH"] = str(PACKAGE_PARENT) + os.pathsep + self.env.get("PYTHONPATH", "")

    def run_cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "caal_llm_worker", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
        )

    def test_streams_the_answer_to_stdout(self) -> None:
        done = self.run_cli("--provider", "mock", "hello", "there")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout, "You said: hello there\n")
        self.assertIn("mock-1", done.stderr)

    def test_json_puts_only_the_result_on_stdout(self) -> None:
        done = self.run_cli("--provider", "mock", "--json", "hello")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(json.loads(done.stdout)["content"], "You said: hello")

    def test_empty_prompt_on_stdin_is_refused(self) -> None:
        done = self.run_cli("--provider", "mock", stdin="  \n")
        self.assertEqual(done.returncode, 2)
        self.assertIn("empty", done.stderr)

    def test_prompt_from_stdin_and_system_prompt(self) -> None:
        done = self.run_cli("--provider", "mock", "--system", "be brief", "--no-stream", stdin="from stdin\n")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout, "You said: from stdin\n")

    def test_list_models(self) -> None:
        done = self.run_cli("--provider", "mock", "--list-models")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("mock-1", done.stdout)

    def test_probe(self) -> None:
        done = self.run_cli("--provider", "mock", "--probe")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertTrue(json.loads(done.stdout)["ok"])

    def test_error_exit_code(self) -> None:
        done = self.run_cli("hello")  # no provider configured
        self.assertEqual(done.returncode, 1)
        self.assertIn("not_configured", done.stderr)


if __name__ == "__main__":
    unittest.main()
