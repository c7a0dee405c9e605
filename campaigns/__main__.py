"""Command line: ``python -m campaigns <command>``.

init                     create or upgrade the database
demo [--signatures N]    load the demo campaigns (idempotent)
"""

from __future__ import annotations

import argparse
import logging
import sys

from campaigns.db import get_engine
from campaigns.errors import RallyError
from campaigns.migrate import upgrade
from campaigns.settings import get_settings


def _positive(text: str) -> int:
    value = int(text)
    if value < 0 or value > 10_000_000:
        raise argparse.ArgumentTypeError("choose a number from 0 to 10,000,000")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m campaigns", description="Rally command line")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("init", help="create or upgrade the database")
    demo = commands.add_parser("demo", help="load demo campaigns with synthetic signers (idempotent)")
    demo.add_argument("--signatures", type=_positive, default=3_000, help="signers for the main demo campaign")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = get_settings()
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        engine = get_engine(settings)
        revision = upgrade(engine)
        where = engine.url.render_as_string(hide_password=True)
        if args.command == "init":
            print(f"Database ready at {where} (schema revision {revision}).")
        elif args.command == "demo":
            from campaigns.demo import load_demo

            totals = load_demo(engine, signatures=args.signatures)
            for slug, total in totals.items():
                print(f"{slug}: {total:,} signatures  ->  {settings.public_url}/?campaign={slug}")
    except RallyError as exc:
        print(f"error: {exc.user_message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
