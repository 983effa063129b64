"""Run ``python -m bot`` in a subprocess on this checkout's code, with only the environment a test gives."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cli_env(**variables: str) -> dict[str, str]:
    """PATH, HOME and LANG of this process, this checkout on PYTHONPATH, and ``variables``; no other settings."""
    kept = {key: value for key, value in os.environ.items() if key in {"PATH", "HOME", "LANG"}}
    return {**kept, "PYTHONPATH": str(ROOT), **variables}


def run_cli(*args: str, env: dict[str, str], cwd: Path, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """Run ``python -m bot ARGS`` to the end and return its exit code and output."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
