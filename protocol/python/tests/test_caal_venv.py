"""Runs test_caal_llm_node under a Python that has CAAL's dependencies, with CAAL's own source.

The suite runs on the system python, which has none of CAAL's dependencies
(livekit-agents, openai, ...): this test runs that module in a subprocess with
the venv named by ``CAAL_VENV`` (else ``<repo>/.venv-caal``) and CAAL's source
from ``CAAL_SRC`` (else ``<repo>/../shared/reference/caal/src``).  It is
skipped, saying why, when either is missing.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import unittest
from pathlib import Path

from .support import REPO_ROOT, worker_binary

PYTHON_ROOT = REPO_ROOT / "protocol" / "python"
MODULE = "tests.test_caal_llm_node"


def caal_python() -> tuple[Path | None, str]:
    venv = Path(os.environ.get("CAAL_VENV") or REPO_ROOT / ".venv-caal")
    python = venv / "bin" / "python"
    if python.exists():
        return python, ""
    return None, (
        f"no venv with CAAL's dependencies at {venv} (set CAAL_VENV, or create {REPO_ROOT / '.venv-caal'} "
        "as protocol/python/README.md says)"
    )


def caal_source() -> tuple[Path | None, str]:
    source = Path(os.environ.get("CAAL_SRC") or REPO_ROOT.parent / "shared" / "reference" / "caal" / "src")
    if (source / "caal" / "llm" / "llm_node.py").is_file():
        return source, ""
    return None, f"CAAL's source is not at {source} (set CAAL_SRC to CAAL's src directory)"


class CAALVenvTests(unittest.TestCase):
    def test_the_streamed_loop_matches_caals_own_in_caals_venv(self) -> None:
        if importlib.util.find_spec("caal") is not None:
            self.skipTest(f"CAAL is importable in this interpreter: {MODULE} runs here directly")
        python, problem = caal_python()
        if python is None:
            self.skipTest(problem)
        source, problem = caal_source()
        if source is None:
            self.skipTest(problem)
        binary, problem = worker_binary()
        if binary is None:
            self.fail(problem)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PYTHON_ROOT), str(source)]), CAAL_LLM_WORKER=binary)
        done = subprocess.run(
            [str(python), "-m", "unittest", "-v", MODULE],
            cwd=PYTHON_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        report = done.stderr[-6000:]
        self.assertEqual(done.returncode, 0, report)
        ran = re.search(r"^Ran (\d+) tests?", done.stderr, re.MULTILINE)
        self.assertIsNotNone(ran, report)
        self.assertGreater(int(ran.group(1)), 0, report)
        self.assertNotIn("skipped", done.stderr, "CAAL did not import in that venv:\n" + report)


if __name__ == "__main__":
    unittest.main()
