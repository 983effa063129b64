"""Command line: ``paylink-bot run | doctor | keys | db upgrade``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

from bot.startup_gc import defer_collections


def _run(_args: argparse.Namespace) -> int:
    from bot.config import load_settings

    settings = load_settings()  # a mistake in them is told before the whole application is imported
    from bot.app import run

    asyncio.run(run(settings))
    return 0


def _doctor(_args: argparse.Namespace) -> int:
    from bot.doctor import check

    return asyncio.run(check())


def _keys(args: argparse.Namespace) -> int:
    from bot.keys import write_key_pair

    write_key_pair(Path(args.out), force=args.force)
    return 0


def _db_upgrade(_args: argparse.Namespace) -> int:
    from bot.config import load_settings
    from bot.database import open_engine, prepare_schema

    async def migrate() -> None:
        settings = load_settings()
        engine = open_engine(settings)
        try:
            await prepare_schema(engine, settings)
        finally:
            await engine.dispose()

    asyncio.run(migrate())
    print("database schema is up to date")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(prog="paylink-bot", description="PayerMax payment links from Telegram.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the bot, the web endpoint and the workers").set_defaults(func=_run)
    commands.add_parser("doctor", help="check the configuration and what it points at").set_defaults(func=_doctor)
    keys = commands.add_parser("keys", help="make a merchant RSA key pair for PayerMax")
    keys.add_argument("--out", default="keys", help="folder for the key files (default: ./keys)")
    keys.add_argument("--force", action="store_true", help="overwrite existing key files")
    keys.set_defaults(func=_keys)
    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply migrations").set_defaults(func=_db_upgrade)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``paylink-bot`` script."""
    defer_collections()
    from bot.config import ConfigError  # imported after the line above, as is everything the commands use

    args = build_parser().parse_args(argv)
    try:
        command: Callable[[argparse.Namespace], int] = args.func  # each subcommand sets its own (set_defaults)
        return command(args)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
