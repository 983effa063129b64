"""Files the end-to-end tests leave for people to look at: screenshots, labels (tests/artifacts/, git-ignored)."""

from __future__ import annotations

from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def artifact(name: str) -> Path:
    """Where to keep a file of this name (the folder is made if needed)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name
