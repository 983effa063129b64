"""Owner-only modes for data at rest: the data folder 0700, the SQLite database files 0600.

The database holds invites, members and payment records; any local user who can read the file
can read them. Modes are set when a file is made and tightened (never loosened) on every start.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("paylink.storage")

FOLDER_MODE = 0o700
FILE_MODE = 0o600
# The main file first: SQLite gives the -wal, -shm and -journal files it creates the main file's mode.
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def private_folder(path: Path) -> list[str]:
    """Create ``path`` owner-only, or take group and other access away from it; say what changed."""
    path.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    return _tighten(path, FOLDER_MODE)


def private_sqlite_files(database: Path) -> list[str]:
    """Create the SQLite file 0600 before SQLite first opens it, and tighten the files already there."""
    if not database.parent.exists():
        database.parent.mkdir(mode=FOLDER_MODE, parents=True)
    with contextlib.suppress(FileExistsError):
        # SQLite would create it with 0644 under the usual umask; an empty file is a valid new database.
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    changes: list[str] = []
    for suffix in SQLITE_SUFFIXES:
        path = Path(f"{database}{suffix}")
        if path.exists():
            changes += _tighten(path, FILE_MODE)
    return changes


def log_tightened(changes: list[str]) -> None:
    """Say in one line which modes were tightened, if any."""
    if changes:
        log.warning("made data readable by this user only (it was open to other local users): %s", ", ".join(changes))


def _tighten(path: Path, allowed: int) -> list[str]:
    """Clear the mode bits of ``path`` outside ``allowed``; describe the change, or return nothing."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if not mode & ~allowed:
        return []
    os.chmod(path, mode & allowed)
    return [f"{path} {mode:04o} -> {mode & allowed:04o}"]
