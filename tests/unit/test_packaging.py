"""Keys and images: secrets stay out of git and out of the Docker build context, and the image caches its dependencies.

Docker cannot run here, so the build context is computed with docker-py (the library the Docker
CLI's Python client uses to apply .dockerignore) and the Dockerfile is read instruction by instruction.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
import tomllib
from pathlib import Path

import pytest
from docker.utils import tar

from tests.cli import ROOT

SECRETS_AND_STATE = [
    ".git/config",
    ".venv/bin/python",
    "data/paylink.db",
    "data/sandbox/merchant_private.pem",
    "keys/merchant_private_key.pem",
    "keys/merchant_public_key.txt",
    "tests/artifacts/bot.log",
    ".env",
    "stray_private_key.pem",
    "bot/__pycache__/app.cpython-311.pyc",
    ".pytest_cache/v/cache/nodeids",
]
SOURCE = [
    "Dockerfile",
    "pyproject.toml",
    "requirements.lock",
    "README.md",
    ".env.example",
    "bot/app.py",
    "storage/db.py",
    "tests/unit/test_qr.py",
]


def _dockerignore_patterns() -> list[str]:
    """.dockerignore's patterns, read the way docker-py's build() reads them."""
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_git_ignores_merchant_keys_and_local_data(tmp_path: Path) -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout")
    paths = [
        "keys/merchant_private_key.pem",
        "keys/merchant_public_key.txt",
        "data/paylink.db",
        "backup/old.pem",
        ".env",
    ]
    result = subprocess.run(
        ["git", "check-ignore", "--no-index", *paths], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert sorted(result.stdout.split()) == sorted(paths), result.stdout + result.stderr


def test_docker_build_context_leaves_out_keys_data_and_local_state(tmp_path: Path) -> None:
    """What `docker build .` would send: the source, and none of the keys, databases, virtualenv or caches."""
    for name in SECRETS_AND_STATE + SOURCE:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    shutil.copy(ROOT / ".dockerignore", tmp_path / ".dockerignore")
    context_tar = tar(str(tmp_path), exclude=_dockerignore_patterns(), dockerfile=("Dockerfile", None))
    with tarfile.open(fileobj=context_tar) as context:
        sent = {member.name for member in context.getmembers() if member.isfile()}
    assert sent == {*SOURCE, ".dockerignore"}  # Docker always sends .dockerignore itself


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", "", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def test_dockerfile_installs_dependencies_in_a_layer_before_the_code(tmp_path: Path) -> None:
    """Only the lock file is copied before the dependency install, so a code change leaves that layer cached."""
    instructions = _instructions()
    installs = [i for i, (word, args) in enumerate(instructions) if word == "RUN" and "pip install" in args]
    first_code = next(
        i for i, (word, args) in enumerate(instructions) if word == "COPY" and args.split()[0] in {"bot", "storage"}
    )
    assert installs and installs[0] < first_code
    assert [args for word, args in instructions[: installs[0]] if word in {"COPY", "ADD"}] == ["requirements.lock ./"]
    # The dependency layer installs exactly the locked versions, hashes checked.
    assert instructions[installs[0]][1] == "pip install --require-hashes -r requirements.lock"
    locked = (ROOT / "requirements.lock").read_text()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for requirement in [*project["project"]["dependencies"], *project["build-system"]["requires"]]:
        name = re.split(r"[\[<>=!~ ]", requirement, maxsplit=1)[0].lower()
        assert re.search(rf"^{re.escape(name)}==\S+ \\$", locked, re.MULTILINE | re.IGNORECASE), f"{name} is not locked"

    after = [instructions[i][1] for i in installs[1:]]
    assert after and all("--no-deps" in args for args in after) and installs[1] > first_code
    keywords = dict(instructions)
    assert keywords["USER"] == "paylink" and "/healthz" in keywords["HEALTHCHECK"]


def test_the_image_and_ci_install_what_the_qr_label_draws_with() -> None:
    """The label's fonts and FriBiDi come from Debian's packages: the image and CI both install every one."""
    from bot.label.fonts import DEBIAN_PACKAGES

    apt = " ".join(args for word, args in _instructions() if word == "RUN" and "apt-get install" in args)
    ci = (ROOT / ".ci" / "run").read_text()
    needed = re.search(r"^needed=\(([^)]*)\)", ci, re.MULTILINE)
    assert needed is not None, ".ci/run names no Debian packages to install"
    for package in DEBIAN_PACKAGES:
        assert re.search(rf"\b{re.escape(package)}\b", apt), f"the Dockerfile does not install {package}"
        assert package in needed.group(1).split(), f".ci/run does not install {package}"
