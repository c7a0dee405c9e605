"""Command line: ``python -m campaigns <command>``.

init                     create or upgrade the database
users add --email E --role R [--role R...] [--name N]
                         add a staff account (password from standard input or a prompt)
users set-password --email E
                         set someone's password (from standard input or a prompt); their log-ins end
users list               list staff accounts
demo [--signatures N]    load the demo campaigns (idempotent)
templates check FILE...  check letter templates with the save-time rules (no database needed)
retention --dry-run      report which closed campaigns' signers would be anonymized (RALLY_RETENTION_DAYS)
retention --apply        anonymize them, in batches; idempotent, safe to run from cron
          [--days N]     override RALLY_RETENTION_DAYS for this run (0: retention off)
import --campaign SLUG FILE [--dry-run] [--report PATH|-]
                         import paper/offline signatures from a CSV (name,email,region,signed_date,consent):
                         good rows are imported and counted (source "import"), duplicates of earlier
                         signatures are counted once, bad rows are skipped; safe to run again on the same
                         file. Prints a summary; writes a per-row report (line,outcome,message) to PATH,
                         by default FILE's name with "-report.csv" next to it, or "-" for standard output.
                         --dry-run checks and reports without writing. Exit status 1 when no row could be
                         imported (the file was refused, or every row has an error); 0 otherwise, also when
                         every good row was already there.
cluster [--workers N] [--port P]
                         try several app processes behind HAProxy on one PostgreSQL database (DATABASE_URL,
                         default postgresql+psycopg://postgres@127.0.0.1:5432/rally): N apps (default 2) on the
                         ports after P (default 8500), one mail worker, HAProxy on P; Ctrl+C stops them all
worker [--once]          send the mail outbox (and run the periodic upkeep) until stopped; --once: send
                         what is due now and exit. Needed when RALLY_OUTBOX_WORKER=off; safe beside the
                         app's own workers (no message is ever taken by two)
outbox status            messages per status, sent in the last hour, the rate limit
outbox resend --id N     send a failed or uncertain message again (audited as "cli")
export --campaign SLUG --format csv|xlsx|json [--output FILE] [filters]
                         export signers (audited as "cli"); filters: --region CODE (repeat), --from DATE,
                         --to DATE (YYYY-MM-DD, UTC days, both included), --status counted|pending|any|flagged,
                         --include-non-consenting REASON (delivery only; recorded), --bom (CSV for Excel).
                         Written to a temporary file in the same folder and renamed when complete.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from campaigns.core.audit import CLI
from campaigns.core.db import get_engine, read_session, run_write
from campaigns.core.errors import InvalidInput, RallyError
from campaigns.core.migrate import upgrade
from campaigns.core.models import Role
from campaigns.core.settings import get_settings

ROLES = tuple(r.value for r in Role)  # campaigns.people.staff is imported only by the commands that need it (its
# password hasher costs half a second at import, which every export from cron would pay)
FIRST_ADMIN_HINT = (
    "No staff accounts yet. Create the first admin (you will be asked for a password):\n"
    "    .venv/bin/python -m campaigns users add --email you@example.org --role admin --role organizer "
    "--role coordinator"
)


def _positive(text: str) -> int:
    value = int(text)
    if value < 0 or value > 10_000_000:
        raise argparse.ArgumentTypeError("choose a number from 0 to 10,000,000")
    return value


def _batch(text: str) -> int:
    value = _positive(text)
    if value < 1 or value > 100_000:
        raise argparse.ArgumentTypeError("choose a batch size from 1 to 100,000")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m campaigns", description="Rally command line")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("init", help="create or upgrade the database")
    demo = commands.add_parser("demo", help="load demo campaigns with synthetic signers (idempotent)")
    demo.add_argument("--signatures", type=_positive, default=3_000, help="signers for the main demo campaign")
    users = commands.add_parser("users", help="staff accounts").add_subparsers(dest="users_command", required=True)
    add = users.add_parser("add", help="add a staff account (password from standard input or a prompt)")
    add.add_argument("--email", required=True)
    add.add_argument("--role", action="append", required=True, choices=ROLES, help="repeat for several roles")
    add.add_argument("--name", default="", help="display name")
    users.add_parser("list", help="list staff accounts")
    reset = users.add_parser(
        "set-password", help="set someone's password (from standard input or a prompt); their log-ins end"
    )
    reset.add_argument("--email", required=True)
    cluster = commands.add_parser("cluster", help="several app processes behind HAProxy on one PostgreSQL")
    cluster.add_argument("--workers", type=int, default=2, help="app processes (default 2)")
    cluster.add_argument("--port", type=int, default=8500, help="HAProxy's port; the apps take the next ones")
    worker = commands.add_parser("worker", help="send the mail outbox and run the periodic upkeep until stopped")
    worker.add_argument("--once", action="store_true", help="send what is due now, then exit")
    box = commands.add_parser("outbox", help="the mail outbox").add_subparsers(dest="outbox_command", required=True)
    box.add_parser("status", help="messages per status, sent in the last hour, the rate limit")
    resend = box.add_parser("resend", help="send a failed or uncertain message again (audited)")
    resend.add_argument("--id", type=_positive, required=True, dest="message_id")
    retention = commands.add_parser(
        "retention", help="anonymize signers of campaigns closed longer than RALLY_RETENTION_DAYS"
    )
    mode = retention.add_mutually_exclusive_group(required=True)
    mode.add_argument("--dry-run", action="store_true", help="report what would be anonymized; change nothing")
    mode.add_argument("--apply", action="store_true", help="anonymize now (idempotent)")
    retention.add_argument("--days", type=_positive, default=None, help="override RALLY_RETENTION_DAYS for this run")
    retention.add_argument("--batch", type=_batch, default=1000, help="signatures per transaction (default 1000)")
    templates = commands.add_parser("templates", help="letter templates").add_subparsers(
        dest="templates_command", required=True
    )
    check = templates.add_parser("check", help="check template files: FILE:LINE: reason, or FILE: ok")
    check.add_argument("files", nargs="+", metavar="FILE")
    imp = commands.add_parser("import", help="import paper/offline signatures from a CSV file into a campaign")
    imp.add_argument("--campaign", required=True, metavar="SLUG", help="the campaign's link name")
    imp.add_argument("file", metavar="FILE", help="CSV with the columns name,email,region,signed_date,consent")
    imp.add_argument("--dry-run", action="store_true", help="check every row and write the report; import nothing")
    imp.add_argument("--report", metavar="PATH", help='where the per-row report goes ("-": standard output)')
    _export_parser(commands)
    return parser


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"“{text}” is not a date: use YYYY-MM-DD") from None


def _export_parser(commands: Any) -> None:
    export = commands.add_parser("export", help="export signers to CSV, XLSX or JSON (audited)")
    export.add_argument("--campaign", action="append", required=True, help="campaign slug (repeat for several)")
    export.add_argument("--format", choices=("csv", "xlsx", "json"), required=True)
    export.add_argument("--output", type=Path, help="file or folder (default: the standard name, here)")
    export.add_argument("--region", action="append", default=[], help="region code (repeat for several)")
    export.add_argument("--from", dest="signed_from", type=_day, help="first day signed (UTC), YYYY-MM-DD")
    export.add_argument("--to", dest="signed_to", type=_day, help="last day signed (UTC), YYYY-MM-DD")
    export.add_argument("--status", choices=("counted", "pending", "any", "flagged"), default="counted")
    export.add_argument(
        "--include-non-consenting",
        metavar="REASON",
        help="also export people who did not agree to be contacted, for a delivery only: say which (audited)",
    )
    export.add_argument("--bom", action="store_true", help="CSV: start with a byte-order mark (for Excel)")


def _export(args: argparse.Namespace, engine: Engine) -> None:
    import time

    from campaigns.export.filters import ExportFilter
    from campaigns.export.formats import export_to_file

    export_filter = ExportFilter(
        campaigns=tuple(args.campaign),
        regions=tuple(args.region),
        signed_from=args.signed_from,
        signed_to=args.signed_to,
        status=args.status,
        include_non_consenting=args.include_non_consenting is not None,
        reason=args.include_non_consenting or "",
    )
    started = time.perf_counter()
    path, rows = export_to_file(
        engine=engine, export_filter=export_filter, fmt=args.format, output=args.output, actor=CLI, bom=args.bom
    )
    print(f"Exported {rows:,} signers to {path} in {time.perf_counter() - started:.2f} s.")


def _read_password() -> str:
    from campaigns.people.passwords import PASSWORD_RULE

    if sys.stdin.isatty():
        first = getpass.getpass(f"Password ({PASSWORD_RULE}): ")
        if getpass.getpass("Same password again: ") != first:
            raise RallyError("The two passwords differ; nothing was saved.")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _users(args: argparse.Namespace, engine: Engine) -> None:
    from campaigns.people.staff import create_user, get_user_by_email, list_users, set_password

    if args.users_command == "list":
        with read_session(engine) as session:
            for user in list_users(session=session):
                state = "" if user.is_active else "  (deactivated)"
                print(f"{user.email}  {', '.join(user.roles)}{state}")
        return
    password = _read_password()
    if args.users_command == "set-password":
        run_write(
            engine,
            lambda s: set_password(
                session=s, user_id=get_user_by_email(session=s, email=args.email).id or 0, password=password, actor=CLI
            ),
        )
        print(f"New password set for {args.email.strip().lower()}; their log-ins have ended.")
        return
    run_write(
        engine,
        lambda s: create_user(
            session=s, email=args.email, password=password, roles=args.role, display_name=args.name, actor=CLI
        ),
    )
    print(f"Added {args.email.strip().lower()} ({', '.join(sorted(set(args.role)))}). They can log in at /auth/login.")


def _retention(args: argparse.Namespace, engine: Engine) -> None:
    from campaigns.people.retention import run_retention

    report = run_retention(engine=engine, apply=args.apply, days=args.days, batch=args.batch)
    if report.cutoff is None:
        print("Retention is off (RALLY_RETENTION_DAYS is 0 or empty): personal data is kept until supporters erase it.")
    else:
        print(
            f"Retention: {report.days} days after a campaign closes (campaigns closed before {report.cutoff:%Y-%m-%d})."
        )
        verb = "anonymized" if report.applied else "to anonymize"
        for due in report.campaigns:
            print(f"  {due.slug}  closed {due.closed_at:%Y-%m-%d}  {due.signatures:,} signers {verb}")
        print(f"{report.signatures:,} signers in {len(report.campaigns)} campaigns {verb}.")
        print(f"{report.proposals:,} decided or expired proposals {verb} (proposer, co-sponsors, their messages).")
    links = "deleted" if report.applied else "to delete"
    print(f'{report.spent_links:,} spent "My data" links {links}.')
    if not report.applied:
        print("Dry run: nothing was changed. Run with --apply to do it.")


def _import(args: argparse.Namespace, engine: Engine) -> int:
    from pathlib import Path

    from campaigns.core.models import SignatureSource
    from campaigns.signatures import paper

    source = Path(args.file)
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise RallyError(f"Cannot read {source}: {exc.strerror}.") from None
    if args.dry_run:
        with read_session(engine) as session:
            report = paper.preview_import(
                session=session, campaign_slug=args.campaign, data=data, file_name=source.name
            )
    else:
        report = paper.import_signatures(
            engine=engine,
            campaign_slug=args.campaign,
            data=data,
            actor=CLI,
            file_name=source.name,
            source=SignatureSource.import_.value,
        )
    out = sys.stderr if args.report == "-" else sys.stdout
    if args.report == "-":
        sys.stdout.buffer.write(report.report_csv())
        sys.stdout.flush()
    else:
        target = Path(args.report) if args.report else source.with_name(f"{source.stem}-report.csv")
        try:
            target.write_bytes(report.report_csv())
        except OSError as exc:
            raise RallyError(f"Cannot write the report to {target}: {exc.strerror}.") from None
        print(f"Report: {target}", file=out)
    print(
        f"{report.campaign_slug}: {report.summary()}{' (dry run: nothing written)' if args.dry_run else ''}", file=out
    )
    good = report.ready + report.imported + report.duplicates
    return 0 if good else 1


def _worker(args: argparse.Namespace, engine: Engine) -> None:
    import signal

    from campaigns.core import outbox_worker
    from campaigns.signatures import upkeep

    if args.once:
        upkeep.run_all(engine=engine)
        done = outbox_worker.drain(engine=engine)
        print(f"Sent {done.sent}; to retry later {done.retried}; failed {done.failed}; uncertain {done.uncertain}.")
        return
    worker = outbox_worker.Worker(engine=engine, upkeep=upkeep.run_all, frequent=upkeep.run_frequent)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop(0))
    print("Mail worker running (Ctrl+C to stop).", flush=True)
    try:
        worker.run()
    except KeyboardInterrupt:
        pass


def _outbox(args: argparse.Namespace, engine: Engine) -> None:
    from campaigns.core import outbox, outbox_worker

    if args.outbox_command == "status":
        with read_session(engine) as session:
            summary = outbox_worker.summarize(session=session)
        counts = ", ".join(f"{status} {n:,}" for status, n in summary.counts.items())
        print(f"Mail: {summary.mode or 'off'}. {counts}. Sent in the last hour: {summary.sent_last_hour:,}.")
        print(f"Rate limit: {summary.per_minute:,} per minute.")
    else:
        run_write(engine, lambda s: outbox.resend(session=s, message_id=args.message_id, actor=CLI))
        print(f"Message {args.message_id} queued again.")


def _cluster(args: argparse.Namespace, database_url: str) -> int:
    from campaigns.ops import cluster

    try:
        cluster.run(
            database_url=database_url or cluster.DEFAULT_DATABASE_URL,
            workers=args.workers,
            port=args.port,
            folder=Path("var") / "cluster",
            secret_key=get_settings().secret_key,
        )
    except RallyError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "templates":  # needs no settings and no database
        from campaigns.letters.templates import check_files

        return check_files(args.files)
    settings = get_settings()
    if args.command == "cluster":  # PostgreSQL only, checked (and upgraded) by the cluster itself
        return _cluster(args, settings.database_url)
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        engine = get_engine(settings)
        revision = upgrade(engine)
        where = engine.url.render_as_string(hide_password=True)
        if args.command == "init":
            print(f"Database ready at {where} (schema revision {revision}).")
            from campaigns.people.staff import count_users

            with read_session(engine) as session:
                if count_users(session=session) == 0:
                    print(FIRST_ADMIN_HINT)
        elif args.command == "demo":
            from campaigns.demo import load_demo
            from campaigns.sharing.links import share_url

            totals = load_demo(engine, signatures=args.signatures)
            for slug, total in totals.items():
                print(f"{slug}: {total:,} signatures  ->  {share_url(slug)}")
        elif args.command == "users":
            _users(args, engine)
        elif args.command == "worker":
            _worker(args, engine)
        elif args.command == "outbox":
            _outbox(args, engine)
        elif args.command == "retention":
            _retention(args, engine)
        elif args.command == "import":
            return _import(args, engine)
        elif args.command == "export":
            _export(args, engine)
    except InvalidInput as exc:
        for field, message in exc.errors.items():
            print(f"error: {field}: {message}", file=sys.stderr)
        return 1
    except RallyError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)  # the operator's version (a StorageError names the folder)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
