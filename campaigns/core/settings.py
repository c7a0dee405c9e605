"""Settings from the environment and a ``.env`` file.

Every setting is documented in README.md's configuration table and in ``.env.example``
(``tests/unit/test_conventions.py`` checks both). Values in the real environment win over ``.env``.
Tests replace the settings with ``override_settings``; nothing reads them at import time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

from campaigns.core.errors import RallyError
from campaigns.core.hosts import DEFAULT_ALLOWED_HOSTS, parse_allowed_hosts

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # campaigns/core/settings.py -> the checkout
DEFAULT_SQLITE_PATH = PROJECT_ROOT / "var" / "rally.db"


class SettingsError(RallyError):
    """A setting has a value the app cannot use."""


@dataclass(frozen=True)
class Settings:
    # Where signatures live. Empty means the embedded SQLite file var/rally.db.
    database_url: str = ""
    # The public address of the app, used in every link Rally builds (pages, emails, share links). Empty: the
    # address each visitor used, for hosts in allowed_hosts; else http://localhost:<the port Rally serves on>.
    public_url: str = ""
    # Without public_url: the hosts a request may name for links to be built on them (comma-separated names,
    # *.domain for its subdomains, addresses; any port). Other hosts get the default address.
    allowed_hosts: str = DEFAULT_ALLOWED_HOSTS
    # Name of the organization running this Rally, shown in the page header.
    org_name: str = "Rally"
    # SQLite only: how long a writer waits for the lock (ms) before a retry.
    sqlite_busy_timeout_ms: int = 5000
    # How often a write that found the database busy is tried again before giving up.
    write_retries: int = 5
    # PostgreSQL only: connections kept open per app process.
    db_pool_size: int = 10
    # PostgreSQL only: counter rows each region spreads its count over (fewer lock waits under a spike).
    count_shards: int = 8
    # Python log level for the app's own messages.
    log_level: str = "INFO"
    # Signs session cookies. Empty: a random key kept in var/secret_key (fine for one machine).
    secret_key: str = ""
    # How long a staff log-in lasts without use, in hours.
    session_hours: int = 12
    # Largest CSV or GeoJSON/TopoJSON file an organizer may upload, in megabytes.
    max_upload_mb: int = 5
    # How long a signer-export download link made on the Export page stays valid, in minutes.
    export_link_minutes: int = 15
    # Outgoing mail. Empty host and outbox: email delivery of letters is hidden.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_security: str = "starttls"  # starttls | ssl | none
    mail_from: str = ""  # e.g. "Rally <letters@example.org>"
    # Development (when RALLY_SMTP_HOST is empty): write each message as an .eml file to this folder.
    # Empty as well: Rally sends no mail at all.
    mail_outbox: str = "var/outbox"
    # At most this many messages are handed to the mail server per minute (all workers together).
    mail_per_minute: int = 600
    # How often a message is tried before it is shown as failed (a 5xx answer fails at once).
    mail_max_attempts: int = 8
    # "app": the mail worker runs inside each app process; "off": run `python -m campaigns worker` apart.
    outbox_worker: str = "app"
    # Updates to signers: at most one update per campaign starts sending in this many days (0: no limit).
    update_min_days: int = 3
    # How long a "My data" link emailed to a supporter works (minutes); each link works once.
    my_data_link_minutes: int = 60
    # Email confirmation: how long a confirmation link works (days), and after how many hours an
    # unconfirmed signer gets one reminder (0: no reminder).
    confirm_link_days: int = 7
    confirm_reminder_hours: int = 48
    # Members' proposals: the confirmed co-sponsors (distinct mailboxes, never the proposer) a proposal needs to
    # reach the organizers' queue, and the days it has to find them before it expires.
    proposal_cosponsors: int = 5
    proposal_days: int = 30
    # At most this many new co-sponsor offers a proposal takes in an hour (each emails the address typed), so a
    # proposal's share link can't make Rally mail thousands of addresses.
    proposal_offers_per_hour: int = 30
    # Flood control: sign-ons from one client address to one campaign beyond these are held for review
    # (stored as flagged, not counted; the signer is not told). 0: no limit.
    sign_limit_per_minute: int = 5
    sign_limit_per_hour: int = 20
    # A campaign taking more than this many signatures in one minute holds the rest for review. 0: off.
    sign_burst_per_minute: int = 0
    # Days after a campaign closes before its signers' personal data is anonymized by
    # `python -m campaigns retention --apply`. 0 (or empty): keep until the supporter erases it.
    retention_days: int = 365
    # Reverse proxies whose X-Forwarded-For is believed (comma-separated networks, e.g. "10.0.0.0/8, ::1").
    # Empty: none; the client's address is the connection's (see campaigns/core/client_address.py).
    trusted_proxies: str = ""

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{DEFAULT_SQLITE_PATH}"


# Environment variable name for each field: RALLY_<FIELD> except DATABASE_URL, the usual name.
ENV_NAMES: dict[str, str] = {
    f.name: ("DATABASE_URL" if f.name == "database_url" else f"RALLY_{f.name.upper()}") for f in fields(Settings)
}


_EMPTY_IS_ZERO = {"retention_days"}  # an empty value means "off", not a mistake
_AT_LEAST_ONE = {
    "count_shards",
    "db_pool_size",
    "session_hours",
    "max_upload_mb",
    "export_link_minutes",
    "my_data_link_minutes",
    "mail_per_minute",
    "mail_max_attempts",
    "confirm_link_days",
    "proposal_cosponsors",
    "proposal_days",
    "proposal_offers_per_hour",
}


_CHOICES = {"outbox_worker": ("app", "off")}


def _coerce(name: str, raw: str, default: object) -> object:
    if isinstance(default, bool):
        if raw.strip().lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.strip().lower() in {"0", "false", "no", "off", ""}:
            return False
        raise SettingsError(f"{ENV_NAMES[name]} must be true or false, not “{raw}”.")
    if isinstance(default, int):
        if name in _EMPTY_IS_ZERO and not raw.strip():
            return 0
        try:
            value = int(raw.strip())
        except ValueError:
            raise SettingsError(f"{ENV_NAMES[name]} must be a whole number, not “{raw}”.") from None
        if value < 0 or (name in _AT_LEAST_ONE and value < 1):
            raise SettingsError(f"{ENV_NAMES[name]} is too small: “{raw}”.")
        return value
    value = raw.strip()
    if name == "trusted_proxies":
        from campaigns.core.client_address import parse_trusted_proxies

        try:
            parse_trusted_proxies(value)
        except ValueError as exc:
            raise SettingsError(f"{ENV_NAMES[name]}: {exc}.") from None
    if name == "allowed_hosts":
        try:
            parse_allowed_hosts(value)
        except ValueError as exc:
            raise SettingsError(f"{ENV_NAMES[name]}: {exc}.") from None
    if name == "public_url" and value:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise SettingsError(
                f"{ENV_NAMES[name]} must be an address like https://rally.example.org (http or https, a host, "
                f"no query), not “{raw}”."
            )
    if name in _CHOICES and value not in _CHOICES[name]:
        raise SettingsError(f"{ENV_NAMES[name]} must be one of {', '.join(_CHOICES[name])}, not “{raw}”.")
    return value


def load_settings(environ: Mapping[str, str] | None = None, env_file: Path | None = None) -> Settings:
    """Read settings from ``env_file`` (default ``.env`` in the project) overlaid by ``environ``."""
    env_file = env_file if env_file is not None else PROJECT_ROOT / ".env"
    values: dict[str, str] = {}
    if env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    defaults = Settings()
    kwargs: dict[str, object] = {}
    for f in fields(Settings):
        raw = values.get(ENV_NAMES[f.name])
        if raw is not None:
            kwargs[f.name] = _coerce(f.name, raw, getattr(defaults, f.name))
    return Settings(**kwargs)  # type: ignore[arg-type]  # each value coerced to its field's type


_current: Settings | None = None


def get_settings() -> Settings:
    """The settings in force (read once per process, unless overridden)."""
    global _current
    if _current is None:
        _current = load_settings()
    return _current


def use_settings(settings: Settings | None) -> Settings | None:
    """Make ``settings`` the ones in force (None: read them again on next use); returns those it replaced.
    For tests and harnesses that point the app at another database or mail server."""
    global _current
    previous, _current = _current, settings
    return previous


@contextmanager
def override_settings(**changes: object) -> Iterator[Settings]:
    """Replace settings for the duration of a block (tests)."""
    global _current
    previous = _current
    _current = replace(previous or load_settings(), **changes)  # type: ignore[arg-type]  # the caller names fields and their values
    try:
        yield _current
    finally:
        _current = previous
