"""The foundation every capability stands on: settings, the database (engines, sessions, retries, migrations),
the tables, domain errors, the audit log, input cleaning, upload reading, random tokens, client addresses,
mail (messages, transports, the durable outbox and its worker), and PDF text in the shipped fonts. Imports
nothing from the other packages."""

__all__ = [
    "audit",
    "client_address",
    "db",
    "errors",
    "mail",
    "migrate",
    "models",
    "outbox",
    "outbox_worker",
    "pdf_text",
    "settings",
    "tokens",
    "upload_json",
    "uploads",
    "validation",
]
