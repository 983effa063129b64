"""Start-up cost: CPU and wall time of ``paylink-bot run`` to /healthz and to the first card, and of ``doctor``.

The bot starts as the end-to-end tests start it (tests/e2e/harness.py): ``python -m bot run`` in
a fresh data folder (so it makes its sandbox keys), against the fake Bot API, on a new SQLite file
(or a throwaway PostgreSQL database), at DEBUG. CPU is the child's user+sys time: read from
/proc when /healthz first answers 200 and when the card for ``/link 150000 IDR Shoes`` (sent then)
arrives; ``doctor`` is timed whole with os.wait4. The baseline is a bare Python importing the
libraries the bot starts with. ``--before PATH`` also measures another checkout of the code (say,
main's) with this virtualenv, run for run in turn with this one, so both see the same machine.

    .venv/bin/python -m bench.startup [--runs 5] [--before ../main] [--database-url postgresql+asyncpg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.databases import bench_database, describe
from bench.report import print_table
from tests.fakes.telegram_api import FakeTelegram, SentMessage

THIS_TREE = Path(__file__).resolve().parents[1]
SELLER = 1001
LINK_COMMAND = "/link 150000 IDR Shoes"
# What a bot process needs before any of its own code runs: the floor start-up cannot go below.
BASELINE_IMPORTS = (
    "import telegram, telegram.ext, httpx, sqlalchemy, sqlalchemy.ext.asyncio, sqlmodel, aiosqlite, "
    "starlette.applications, uvicorn, pydantic_settings, cryptography.hazmat.primitives.asymmetric.rsa"
)
# What tests/e2e/harness.py gives a bot whose test is not about pacing (not imported: mypy would check the harness).
FAST_NOTIFY_SCHEDULE, FAST_SEND_LIMITS = "0,0.3,0.6,1,2,4", "1000,100,6000"
POLL_SECONDS = 0.02  # how often /healthz is asked; also the resolution of the wall figures
START_TIMEOUT, CARD_TIMEOUT, STOP_TIMEOUT = 60.0, 60.0, 20.0
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Tree:
    """A checkout whose ``bot`` package is measured."""

    label: str
    path: Path

    def environment(self, base: dict[str, str]) -> dict[str, str]:
        """``base`` with this checkout first on the import path (ahead of the virtualenv's editable install)."""
        return {**base, "PYTHONPATH": str(self.path)}


@dataclass(frozen=True)
class Cost:
    """CPU (user+sys) and wall seconds."""

    cpu: float
    wall: float


def cpu_seconds(pid: int) -> float:
    """User+sys CPU a running process (all its threads) has used, from /proc (1/CLK_TCK resolution)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND  # utime and stime: fields 14 and 15 of stat


def waited_cost(process: subprocess.Popen[bytes], started: float) -> Cost:
    """Wait for ``process`` and return its whole CPU (os.wait4's rusage) and wall time; fail on a non-zero exit."""
    _pid, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
    return Cost(usage.ru_utime + usage.ru_stime, wall)


def bytecode_environment() -> dict[str, str]:
    """This environment, writing and reading bytecode caches as scripts/test has the tests do."""
    return {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def compile_tree(tree: Tree) -> None:
    """Write the checkout's bytecode caches first, so no measured start compiles a module."""
    folders = [str(tree.path / name) for name in ("bot", "storage")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *folders], check=True, stdout=subprocess.DEVNULL)


def bot_environment(fake: FakeTelegram, database_url: str, data_dir: Path, port: int) -> dict[str, str]:
    """The environment the e2e harness gives the bot (tests/e2e/harness.py BotProcess)."""
    inherited = {
        key: value
        for key, value in bytecode_environment().items()
        if not key.startswith(("PAYERMAX_", "TELEGRAM_", "DATABASE_"))
    }
    return {
        **inherited,
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "HTTP_PORT": str(port),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "DATABASE_URL": database_url,
        "DATA_DIR": str(data_dir),
        "ADMIN_USER_IDS": str(SELLER),
        "SANDBOX_NOTIFY_SCHEDULE": FAST_NOTIFY_SCHEDULE,
        "LOG_LEVEL": "DEBUG",
        "TELEGRAM_SEND_LIMITS": FAST_SEND_LIMITS,
    }


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def is_card(message: SentMessage) -> bool:
    """The link card: a photo to the seller."""
    return message.chat_id == SELLER and message.kind == "photo"


def spawn(command: str, data_dir: Path, env: dict[str, str], output: Path) -> tuple[subprocess.Popen[bytes], float]:
    """Start ``python -m bot COMMAND`` writing to ``output``; the process and when it was started."""
    with output.open("ab") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", command], cwd=data_dir, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    return process, started


async def measure_run(tree: Tree, fake: FakeTelegram, database_url: str, folder: Path) -> tuple[Cost, Cost]:
    """Start the bot; the cost to its first /healthz 200, and to the card for a /link sent then."""
    data_dir = folder / "data"
    data_dir.mkdir()
    port = free_port()
    env = tree.environment(bot_environment(fake, database_url, data_dir, port))
    process, started = spawn("run", data_dir, env, data_dir / "bot.log")
    try:
        healthy = await until_healthy(process, f"http://127.0.0.1:{port}/healthz", started, data_dir)
        fake.send_text(LINK_COMMAND, user_id=SELLER)
        await fake.wait_for_message(is_card, timeout=CARD_TIMEOUT)
        card = Cost(cpu_seconds(process.pid), time.perf_counter() - started)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(process.wait, STOP_TIMEOUT)
    return healthy, card


async def until_healthy(process: subprocess.Popen[bytes], url: str, started: float, data_dir: Path) -> Cost:
    """Poll /healthz; the child's CPU and the wall time when it first answers 200."""
    deadline = started + START_TIMEOUT
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            if process.poll() is not None:
                log = (data_dir / "bot.log").read_text(errors="replace")
                raise RuntimeError(f"bot exited with {process.returncode}:\n{log}")
            try:
                if (await client.get(url)).status_code == 200:
                    return Cost(cpu_seconds(process.pid), time.perf_counter() - started)
            except httpx.TransportError:
                pass
            if time.perf_counter() > deadline:
                raise TimeoutError("bot did not answer /healthz")
            await asyncio.sleep(POLL_SECONDS)


async def measure_doctor(tree: Tree, fake: FakeTelegram, database_url: str, folder: Path) -> Cost:
    """``python -m bot doctor`` with the bot's environment, whole."""
    data_dir = folder / "data"
    data_dir.mkdir()
    env = tree.environment(bot_environment(fake, database_url, data_dir, free_port()))
    output = folder / "doctor.log"
    process, started = spawn("doctor", data_dir, env, output)
    try:
        return await asyncio.to_thread(waited_cost, process, started)
    except RuntimeError as exc:
        raise RuntimeError(f"{exc}:\n{output.read_text(errors='replace')}") from None


def measure_baseline() -> Cost:
    """A bare interpreter importing the bot's libraries."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", BASELINE_IMPORTS], env=bytecode_environment())
    return waited_cost(process, started)


async def measure(trees: list[Tree], runs: int, database_url: str | None) -> dict[str, list[Cost]]:
    """Every figure ``runs`` times, trees taking turns within each round."""
    costs: dict[str, list[Cost]] = defaultdict(list)
    for tree in trees:
        compile_tree(tree)
    for round_number in range(runs):
        costs["baseline"].append(await asyncio.to_thread(measure_baseline))
        for tree in trees:
            # A new fake, folder and database for every process, as each e2e test has.
            with tempfile.TemporaryDirectory(prefix="paylink-startup-") as folder:
                async with FakeTelegram() as fake, bench_database(database_url, Path(folder)) as url:
                    healthy, card = await measure_run(tree, fake, url, Path(folder))
            costs[f"healthz {tree.label}"].append(healthy)
            costs[f"card {tree.label}"].append(card)
            with tempfile.TemporaryDirectory(prefix="paylink-doctor-") as folder:
                async with FakeTelegram() as fake, bench_database(database_url, Path(folder)) as url:
                    costs[f"doctor {tree.label}"].append(await measure_doctor(tree, fake, url, Path(folder)))
        print(f"round {round_number + 1}/{runs} done", file=sys.stderr)
    return costs


def median_cost(costs: list[Cost]) -> Cost:
    """Median CPU and median wall (each on its own)."""
    return Cost(statistics.median(c.cpu for c in costs), statistics.median(c.wall for c in costs))


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="starts per figure; medians are shown (default 5)")
    parser.add_argument("--before", type=Path, help="another checkout of this repository to measure alongside")
    parser.add_argument("--database-url", help="PostgreSQL server to make a throwaway database on (default SQLite)")
    args = parser.parse_args()
    trees = [Tree("this", THIS_TREE)]
    if args.before is not None:
        trees.insert(0, Tree("before", args.before.resolve()))
    costs = asyncio.run(measure(trees, args.runs, args.database_url))
    baseline = median_cost(costs["baseline"])
    rows = [["baseline: import the libraries", f"{baseline.cpu * 1000:.0f}", f"{baseline.wall * 1000:.0f}", "1.00", ""]]
    stages = (("doctor", "doctor, whole"), ("healthz", "run → /healthz 200"), ("card", "run → first card"))
    for key, title in stages:
        before = median_cost(costs[f"{key} before"]) if args.before is not None else None
        for tree in trees:
            cost = median_cost(costs[f"{key} {tree.label}"])
            against = f"{cost.cpu / before.cpu:.2f}" if before is not None and tree.label != "before" else ""
            rows.append(
                [
                    f"{title} ({tree.label})",
                    f"{cost.cpu * 1000:.0f}",
                    f"{cost.wall * 1000:.0f}",
                    f"{cost.cpu / baseline.cpu:.2f}",
                    against,
                ]
            )
    database = "SQLite" if args.database_url is None else describe(args.database_url)
    print_table(
        f"Start-up, {database}, medians of {args.runs} (CPU = the child's user+sys)",
        ["what", "CPU ms", "wall ms", "CPU × baseline", "CPU × before"],
        rows,
    )
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # a shared machine slows every figure


if __name__ == "__main__":
    main()
