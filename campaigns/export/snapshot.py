"""Signer exports for coordinators: which people, which columns, read from one consistent snapshot.

An export is a filter (``ExportFilter``) run inside one read transaction: REPEATABLE READ on
PostgreSQL, a plain read transaction on SQLite (in WAL mode a reader sees the database as it was
when its first read ran). The number of rows is counted in that transaction before any row is
sent, and the rows then come from the same transaction in batches (a server-side cursor on
PostgreSQL, SQLite's step-by-step cursor), so signatures arriving meanwhile are neither half in
the file nor able to break it, and the list is never held in memory whole.

Who is exported: signatures of the chosen campaigns with the chosen status (counted by default),
never withdrawn or erased ones, and by default only people who agreed to be contacted; a
coordinator may include the others only for a delivery, with a reason that goes into the audit log.

The file formats live in ``campaigns.export.formats``; signed download links in ``campaigns.export.links``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, String, case, func, select, type_coerce
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col

from campaigns.catalog.listing import is_possible_slug
from campaigns.core.audit import Actor, record
from campaigns.core.db import run_write
from campaigns.core.errors import InvalidInput, RallyError
from campaigns.core.models import Campaign, Letter, Outreach, Signature, SignatureStatus, utcnow
from campaigns.letters import deliveries
from campaigns.regions.custom import resolve_scheme

BATCH_ROWS = 5_000
FORMATS = ("csv", "xlsx", "json")
STATUSES = {  # the status filter -> signature statuses it exports (withdrawn: never)
    "counted": (SignatureStatus.counted.value,),
    "pending": (SignatureStatus.pending.value,),
    "any": (SignatureStatus.counted.value, SignatureStatus.pending.value),
    "flagged": (SignatureStatus.flagged.value,),  # held for review (campaigns.signatures.flood): only when asked for
}
REASON_MIN = 10
REASON_MAX = 500
MAX_CAMPAIGNS = 50
MAX_REGIONS = 1_000

# The documented column set, in file order (README: "Coordinators").
COLUMNS = (
    "campaign",
    "first_name",
    "last_name",
    "full_name",
    "email",
    "region_code",
    "region_name",
    "postal_code",
    "comment",
    "contact_consent",
    "consent_version",
    "consent_at",
    "source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "referrer",
    "signed_at",
    "status",
    "letters_sent",
    "letters_downloaded_or_opened",
)


class ExportRefused(RallyError):
    """The export cannot be made as asked (too many rows for the format, nothing chosen...)."""


@dataclass(frozen=True)
class ExportFilter:
    """Which signatures to export. Dates are whole UTC days, both ends included."""

    campaigns: tuple[str, ...]
    regions: tuple[str, ...] = ()
    signed_from: date | None = None
    signed_to: date | None = None
    status: str = "counted"
    include_non_consenting: bool = False
    reason: str = ""  # why non-consenting people are included (required then; recorded in the audit log)

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["campaigns"] = list(self.campaigns)
        values["regions"] = list(self.regions)
        values["signed_from"] = self.signed_from.isoformat() if self.signed_from else None
        values["signed_to"] = self.signed_to.isoformat() if self.signed_to else None
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ExportFilter:
        def day(value: Any) -> date | None:
            return date.fromisoformat(value) if value else None

        return cls(
            campaigns=tuple(values.get("campaigns") or ()),
            regions=tuple(values.get("regions") or ()),
            signed_from=day(values.get("signed_from")),
            signed_to=day(values.get("signed_to")),
            status=str(values.get("status") or "counted"),
            include_non_consenting=bool(values.get("include_non_consenting")),
            reason=str(values.get("reason") or ""),
        )


@dataclass(frozen=True)
class ExportCampaign:
    id: int
    slug: str
    title: str
    region_names: dict[str, str] = field(repr=False)


@dataclass(frozen=True)
class CheckedFilter:
    """A filter whose campaigns exist and whose regions, dates, status and reason make sense."""

    filter: ExportFilter
    campaigns: tuple[ExportCampaign, ...]

    @property
    def by_id(self) -> dict[int, ExportCampaign]:
        return {c.id: c for c in self.campaigns}


def check_filter(session: Session, export_filter: ExportFilter) -> CheckedFilter:
    """Validate every field at once; InvalidInput names each problem."""
    f = export_filter
    errors: dict[str, str] = {}
    slugs = list(dict.fromkeys(s.strip().lower() for s in f.campaigns if s.strip()))
    found: list[Campaign] = []
    if not slugs:
        errors["campaigns"] = "Choose at least one campaign."
    elif len(slugs) > MAX_CAMPAIGNS:
        errors["campaigns"] = f"Choose at most {MAX_CAMPAIGNS} campaigns per export."
    else:
        possible = [s for s in slugs if is_possible_slug(s)]
        rows = session.execute(select(Campaign).where(col(Campaign.slug).in_(possible))).scalars().all()
        by_slug = {c.slug: c for c in rows}
        missing = [s for s in slugs if s not in by_slug]
        if missing:
            errors["campaigns"] = f"There is no campaign called {', '.join(missing)}."
        found = [by_slug[s] for s in slugs if s in by_slug]
    campaigns = tuple(
        ExportCampaign(c.id or 0, c.slug, c.title, _region_names(session, c.region_scheme)) for c in found
    )
    regions = tuple(dict.fromkeys(r.strip().upper() for r in f.regions if r.strip()))
    if len(regions) > MAX_REGIONS:
        errors["regions"] = f"Choose at most {MAX_REGIONS:,} regions."
    elif regions and campaigns:
        known = set().union(*(c.region_names for c in campaigns))
        unknown = [r for r in regions if r not in known]
        if unknown:
            errors["regions"] = f"Unknown region code {', '.join(unknown[:5])} for the chosen campaigns."
    if f.signed_from and f.signed_to and f.signed_from > f.signed_to:
        errors["signed_to"] = "The end date is before the start date."
    if f.status not in STATUSES:
        errors["status"] = f"Status must be one of {', '.join(STATUSES)}."
    reason = " ".join(f.reason.split())
    if f.include_non_consenting and len(reason) < REASON_MIN:
        errors["reason"] = (
            "People who did not agree to be contacted can only be exported for a delivery: "
            f"say what it is for (at least {REASON_MIN} characters), it is written to the audit log."
        )
    elif len(reason) > REASON_MAX:
        errors["reason"] = f"Keep the reason under {REASON_MAX} characters."
    if errors:
        raise InvalidInput(errors)
    cleaned = ExportFilter(
        campaigns=tuple(c.slug for c in campaigns),
        regions=regions,
        signed_from=f.signed_from,
        signed_to=f.signed_to,
        status=f.status,
        include_non_consenting=f.include_non_consenting,
        reason=reason if f.include_non_consenting else "",
    )
    return CheckedFilter(cleaned, campaigns)


def _region_names(session: Session, scheme_id: str) -> dict[str, str]:
    try:
        scheme = resolve_scheme(session, scheme_id)
    except RallyError:
        return {}
    return {r.code: r.name for r in scheme.regions}


# --- the query -----------------------------------------------------------------------------------


def _iso(dialect: str, column: Any) -> Any:
    """A UTC timestamp as ISO 8601 text (``2026-11-30T12:34:56Z``), formatted by the database itself."""
    if dialect == "postgresql":
        expr = func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
    else:
        expr = func.strftime("%Y-%m-%dT%H:%M:%SZ", type_coerce(column, String))
    return type_coerce(expr, String)


def _letters_sent() -> Any:
    """Letters in the person's name that Rally emailed to their target and the mail server took
    (``deliveries.is_sent``; one email row per letter, so rows are letters).

    Both letter counts are driven from the person's letters (``letter.signature_id``, then
    ``outreach.letter_id``, both indexed), with the channel and status tested on those rows only: a
    ``WHERE status = 'sent'`` would let SQLite pick the status index and walk every sent delivery for
    each person."""
    return (
        select(func.count(case((deliveries.is_sent(), 1))))
        .select_from(Letter)
        .join(Outreach, col(Outreach.letter_id) == Letter.id)
        .where(col(Letter.signature_id) == Signature.id)
        .scalar_subquery()
    )


def _letters_downloaded_or_opened() -> Any:
    """Letters the person downloaded (PDF or text) or opened in their own mail app, each once: never "sent".

    ``EXISTS`` per letter rather than ``count(DISTINCT ...)``: no temporary B-tree per person on SQLite."""
    taken = (
        select(col(Outreach.id)).where(col(Outreach.letter_id) == Letter.id, deliveries.is_taken_by_signer()).exists()
    )
    return (
        select(func.count())
        .select_from(Letter)
        .where(col(Letter.signature_id) == Signature.id, taken)
        .scalar_subquery()
    )


def _where(checked: CheckedFilter) -> list[Any]:
    f = checked.filter
    s = Signature
    conditions: list[ColumnElement[bool]] = [
        col(s.campaign_id).in_([c.id for c in checked.campaigns]),
        col(s.status).in_(STATUSES[f.status]),
        col(s.erased_at).is_(None),
        col(s.withdrawn_at).is_(None),
    ]
    if not f.include_non_consenting:
        conditions.append(col(s.contact_consent).is_(True))
    if f.regions:
        conditions.append(col(s.region_code).in_(f.regions))
    if f.signed_from:
        start = datetime(f.signed_from.year, f.signed_from.month, f.signed_from.day, tzinfo=UTC)
        conditions.append(col(s.created_at) >= start)
    if f.signed_to:
        end = datetime(f.signed_to.year, f.signed_to.month, f.signed_to.day, tzinfo=UTC) + timedelta(days=1)
        conditions.append(col(s.created_at) < end)
    return conditions


FORMULA_TRIGGERS = frozenset("=+-@\t\r")  # OWASP "CSV injection": a cell starting so may run as a formula


def csv_safe_cell(value: Any) -> Any:
    """The CSV rule: a text value starting with a formula trigger gets a leading single quote; nothing else
    changes (other text, empty text, numbers and empty cells stay as they are)."""
    if value.__class__ is str and value[:1] in FORMULA_TRIGGERS:
        return "'" + value
    return value


def rows_statement(checked: CheckedFilter, dialect: str) -> Any:
    """The export's SELECT, in the order ``_shaper`` expects: everything after ``region_code`` is final.

    Ordered by signing time within each campaign, as the ``(campaign_id, created_at)`` index keeps the
    rows: they stream from the cursor and are never sorted first.
    """
    s = Signature
    return (
        select(
            col(s.campaign_id),
            col(s.full_name),
            col(s.email),
            col(s.region_code),
            col(s.postal_code),
            col(s.comment),
            type_coerce(case((col(s.contact_consent).is_(True), "yes"), else_="no"), String),
            col(s.consent_hash),
            _iso(dialect, col(s.consent_at)),
            col(s.source),
            col(s.utm_source),
            col(s.utm_medium),
            col(s.utm_campaign),
            col(s.referrer),
            _iso(dialect, col(s.created_at)),
            col(s.status),
            _letters_sent(),
            _letters_downloaded_or_opened(),
        )
        .where(*_where(checked))
        .order_by(col(s.campaign_id), col(s.created_at), col(s.id))
    )


def _shaper(checked: CheckedFilter, csv_safe: bool) -> Callable[[list[tuple[Any, ...]]], list[tuple[Any, ...]]]:
    """Turns a batch of database rows into ``COLUMNS`` rows: the campaign's link name, the name split at
    its first space, the region's name. ``csv_safe`` applies the CSV formula rule to every text value;
    only the columns people type can start with a trigger, so a row is rewritten only when one does.
    """
    slugs = {c.id: c.slug for c in checked.campaigns}
    names = {c.id: c.region_names for c in checked.campaigns}
    triggers = FORMULA_TRIGGERS

    def shape(batch: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        append = out.append
        for cid, full, email, region, postal, comment, consent, version, at, source, u1, u2, u3, ref, *end in batch:
            first, _, last = full.partition(" ")
            region_name = names[cid].get(region, "")
            row = (slugs[cid], first, last, full, email, region, region_name, postal, comment, consent, version, at)
            row += (source, u1, u2, u3, ref, *end)
            if csv_safe and (
                first[:1] in triggers
                or last[:1] in triggers
                or email[:1] in triggers
                or region[:1] in triggers
                or region_name[:1] in triggers  # an uploaded scheme's region name
                or (postal and postal[0] in triggers)
                or (comment and comment[0] in triggers)
                or (u1 and u1[0] in triggers)
                or (u2 and u2[0] in triggers)
                or (u3 and u3[0] in triggers)
                or (ref and ref[0] in triggers)
            ):
                row = tuple(csv_safe_cell(v) for v in row)
            append(row)
        return out

    return shape


def count_statement(checked: CheckedFilter) -> Any:
    return select(func.count()).select_from(Signature).where(*_where(checked))


def split_name(full_name: str) -> tuple[str, str]:
    """First word, then the rest: "José García Márquez" -> ("José", "García Márquez"); one word -> (it, "").

    Names are stored trimmed, with the spaces the signer typed; this is a convenience for mail merges,
    ``full_name`` is what they wrote.
    """
    first, _, last = full_name.partition(" ")
    return first, last


def _driver_cursor(conn: Connection, statement: Any) -> Any:
    """Run ``statement`` on the connection's own DBAPI cursor (server-side on PostgreSQL), inside its transaction.

    Rows come back as plain tuples: building SQLAlchemy rows cost more than everything else per row
    (the same reason as ``db.HotStatement``). Values are bound through each column type's processor.
    """
    dialect = conn.dialect
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    values: dict[str, Any] = {}
    for name, value in compiled.construct_params().items():
        bind = compiled.binds.get(name)
        if bind is None:  # an item of an expanded IN (...): name_1, name_2...
            bind = compiled.binds[name.rsplit("_", 1)[0]]
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        values[name] = processor(value) if processor is not None else value
    params = tuple(values[n] for n in compiled.positiontup or ()) if compiled.positional else values
    raw = conn.connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor(name="rally_export") if dialect.name == "postgresql" else raw.cursor()
    cursor.execute(compiled.string, params)
    return cursor


# --- running an export ---------------------------------------------------------------------------


@dataclass
class Snapshot:
    """An open, consistent view of the rows of one export: ``count`` rows, then ``batches()`` yields them."""

    checked: CheckedFilter
    count: int
    connection: Connection = field(repr=False)
    taken_at: datetime
    batch_rows: int = BATCH_ROWS

    def batches(self, *, csv_safe: bool = False) -> Iterator[list[tuple[Any, ...]]]:
        """Lists of rows in ``COLUMNS`` order, read from the database cursor a batch at a time.

        ``csv_safe``: with the CSV formula rule applied to every text value."""
        conn = self.connection
        shape = _shaper(self.checked, csv_safe)
        cursor = _driver_cursor(conn, rows_statement(self.checked, conn.dialect.name))
        if conn.dialect.name == "postgresql":  # rows cross a socket: fetch the next batch while this one is written
            yield from _read_ahead(lambda: shape(cursor.fetchmany(self.batch_rows)), cursor.close)
            return
        try:
            while batch := cursor.fetchmany(self.batch_rows):
                yield shape(batch)
        finally:
            cursor.close()


_DONE = object()


def _read_ahead(fetch: Callable[[], list[Any]], close: Callable[[], None], depth: int = 2) -> Iterator[list[Any]]:
    """Yield ``fetch()`` results until one is empty, fetching the next batches in a reader thread meanwhile.

    Waiting for PostgreSQL's next rows releases the GIL, so it overlaps with the writing of the previous
    batch (15-25% less time for a CSV export). Not for SQLite: its reads are CPU work in this process,
    and two threads taking turns on the GIL were slower than one. At most ``depth`` batches wait in
    memory. The cursor is only ever used by the reader thread, and closed by it.
    """
    ahead: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                batch = fetch()
                ahead.put(batch or _DONE)
                if not batch:
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            ahead.put(exc)
        finally:
            close()

    reader = threading.Thread(target=read, name="export-read-ahead", daemon=True)
    reader.start()
    try:
        while (item := ahead.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while reader.is_alive():  # let a reader blocked on a full queue see the stop
            try:
                ahead.get_nowait()
            except queue.Empty:
                reader.join(0.05)


@contextmanager
def open_snapshot(engine: Engine, export_filter: ExportFilter, *, batch_rows: int = BATCH_ROWS) -> Iterator[Snapshot]:
    """Check the filter and count its rows inside one read transaction that stays open for the rows."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin():
            checked = check_filter(Session(bind=conn), export_filter)
            count = int(conn.execute(count_statement(checked)).scalar_one())
            yield Snapshot(checked=checked, count=count, connection=conn, taken_at=utcnow(), batch_rows=batch_rows)


def count_matching(engine: Engine, export_filter: ExportFilter) -> int:
    """How many people an export with this filter would have now (the page shows it before download)."""
    with open_snapshot(engine, export_filter) as snapshot:
        return snapshot.count


def file_name(slugs: tuple[str, ...] | list[str], fmt: str, today: date | None = None) -> str:
    """``rally-<slug>-signers-2026-11-30.csv``; several campaigns: their slugs joined (three at most)."""
    today = today or utcnow().date()
    shown = "-".join(slugs[:3]) + (f"-and-{len(slugs) - 3}-more" if len(slugs) > 3 else "")
    return f"rally-{shown}-signers-{today.isoformat()}.{fmt}"


def record_export(
    engine: Engine, *, actor: Actor, snapshot: Snapshot, fmt: str, name: str, via: str, bom: bool = False
) -> None:
    """One audit entry per export and campaign list: who, when, filters, rows, format, consent choice and reason."""
    checked = snapshot.checked
    detail: dict[str, Any] = {
        "filters": checked.filter.as_dict(),
        "rows": snapshot.count,
        "format": fmt,
        "bom": bom,
        "file": name,
        "via": via,
        "include_non_consenting": checked.filter.include_non_consenting,
        "reason": checked.filter.reason,
    }
    campaign_id = checked.campaigns[0].id if len(checked.campaigns) == 1 else None
    run_write(engine, lambda s: record(s, actor=actor, action="export.signers", campaign_id=campaign_id, **detail))


def region_choices(session: Session, slugs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Region code -> name over the chosen campaigns' schemes (for the Export page's region picker)."""
    if not slugs:
        return {}
    possible = [s for s in slugs if is_possible_slug(s)]
    schemes = session.execute(select(col(Campaign.region_scheme)).where(col(Campaign.slug).in_(possible))).scalars()
    choices: dict[str, str] = {}
    for scheme_id in sorted(set(schemes)):
        choices.update(_region_names(session, scheme_id))
    return dict(sorted(choices.items(), key=lambda item: item[1].casefold()))
