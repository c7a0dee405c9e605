"""The foundation every capability stands on: settings, the database (engines, sessions, retries, migrations),
the tables, named locks, domain errors, the audit log, input cleaning, upload reading, random tokens, client
addresses, the shipped fonts and PDF text set in them, a short-lived cache for routes, the hosts links may be
built on, the theme's colour, and mail (messages, transports, the durable outbox and its worker). Imports nothing from
the other packages."""

__all__ = [
    "audit",
    "client_address",
    "db",
    "db_failures",
    "errors",
    "fonts",
    "hosts",
    "locks",
    "mail",
    "migrate",
    "models",
    "outbox",
    "outbox_bulk",
    "outbox_worker",
    "pdf_text",
    "plain_text",
    "settings",
    "theme",
    "tokens",
    "ttl_cache",
    "upload_json",
    "uploads",
    "validation",
]
