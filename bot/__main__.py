"""`python -m bot [discord|slack|console] [--offline]`, `python -m bot migrate`, `python -m bot copy-db SOURCE TARGET`:
the command line (also installed as `gemini-image-bot`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from bot.settings import Settings, SettingsError, load_env


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Gemini image bot for Discord and Slack.")
    parser.add_argument(
        "command", nargs="?", choices=("discord", "slack", "console", "migrate", "copy-db"),
        help="run one platform (default: every platform whose credentials are set); migrate: bring the database's "
        "schema up to date; copy-db SOURCE TARGET: copy a database into another (SQLite to PostgreSQL)",
    )
    parser.add_argument("databases", nargs="*", metavar="URL", help="copy-db: the source and target database URLs")
    parser.add_argument("--offline", action="store_true", help="use the built-in stand-in model; no API key needed")
    parser.add_argument("--out", type=Path, default=Path("out"), help="console: folder for images (default ./out)")
    parser.add_argument("--http", action="store_true", help="slack: HTTP mode even when SLACK_APP_TOKEN is set")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.command in ("migrate", "copy-db"):
        return database_command(args)
    try:
        settings = Settings.from_env(load_env(os.environ))
        platforms = (args.command,) if args.command else settings.platforms
        if not platforms:
            raise SettingsError([
                "no platform to run: set DISCORD_TOKEN and/or SLACK_BOT_TOKEN, or run `python -m bot console`"
            ])
        settings.require(offline=args.offline, platforms=platforms)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    from bot.app import serve

    try:
        asyncio.run(serve(settings, platforms, offline=args.offline, out_dir=args.out, http=args.http))
    except KeyboardInterrupt:
        return 130
    except SettingsError as exc:  # found only once starting (the database cannot be opened): said as at start
        print(exc, file=sys.stderr)
        return 2
    except Exception as exc:  # the failing adapter logged its traceback; end with one clear line and status 1
        logging.getLogger("bot").error("stopped: %s: %s", type(exc).__name__, exc)
        return 1
    return 0


def database_command(args: argparse.Namespace) -> int:
    from bot import admin

    try:
        if args.command == "copy-db":
            if len(args.databases) != 2:
                print("usage: python -m bot copy-db SOURCE_URL TARGET_URL (e.g. sqlite:///data/bot.db "
                      "postgresql://bot@db/bot)", file=sys.stderr)
                return 2
            asyncio.run(admin.copy_db(args.databases[0], args.databases[1], sys.stdout))
        else:
            settings = Settings.from_env(load_env(os.environ))
            asyncio.run(admin.migrate(args.databases[0] if args.databases else settings.database, sys.stdout))
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    except Exception as exc:  # a database that cannot be reached or read: one clear line
        logging.getLogger("bot").error("%s failed: %s: %s", args.command, type(exc).__name__, exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
