"""Finding the ``caal-llm-worker`` executable.

The order is fixed by the project (issue 5) so that a deployment can always
say exactly which binary runs: an explicit path wins, then the environment
variable ``CAAL_LLM_WORKER`` (what CAAL's Docker image sets), then
``caal-llm-worker`` on PATH, then the build inside this very repository
(release first, then debug) so that a developer's checkout works without any
setup.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .errors import WorkerNotFound

__all__ = ["BINARY_NAME", "ENV_VAR", "find_worker_binary", "repository_root", "repository_builds"]

BINARY_NAME = "caal-llm-worker"
ENV_VAR = "CAAL_LLM_WORKER"


def repository_root() -> Path:
    """The repository this package lives in (``<repo>/protocol/python/caal_llm_worker``)."""
    return Path(__file__).resolve().parents[3]


def repository_builds(root: Path | None = None) -> list[Path]:
    """The repository's own build outputs, in the order they are tried."""
    base = root if root is not None else repository_root()
    return [base / ".build" / "release" / BINARY_NAME, base / ".build" / "debug" / BINARY_NAME]


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_worker_binary(explicit: str | os.PathLike[str] | None = None) -> str:
    """Return the path of the worker binary to spawn.

    An explicit path or ``CAAL_LLM_WORKER`` that does not point at an
    executable is an error rather than a reason to fall through: silently
    running some other binary than the one asked for would be far harder to
    debug than a clear failure.
    """
    if explicit is not None:
        path = Path(explicit).expanduser()
        if _is_executable(path):
            return str(path)
        found = shutil.which(str(explicit))
        if found:
            return found
        raise WorkerNotFound(None, f"worker binary {str(explicit)!r} (given explicitly) is not an executable file")

    env_value = os.environ.get(ENV_VAR)
    if env_value:
        path = Path(env_value).expanduser()
        if _is_executable(path):
            return str(path)
        found = shutil.which(env_value)
        if found:
            return found
        raise WorkerNotFound(None, f"{ENV_VAR}={env_value!r} is not an executable file")

    on_path = shutil.which(BINARY_NAME)
    if on_path:
        return on_path

    tried = repository_builds()
    for candidate in tried:
        if _is_executable(candidate):
            return str(candidate)

    raise WorkerNotFound(
        None,
        f"could not find the {BINARY_NAME} binary: pass its path, set {ENV_VAR}, put it on PATH, "
        f"or build it in the repository with `swift build` (looked for {', '.join(str(p) for p in tried)})",
    )
