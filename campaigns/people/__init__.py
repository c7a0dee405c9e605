"""People: staff accounts (``staff``), their passwords (``passwords``), log-ins (``logins``) and set-password links
(``password_links``); supporters' control of their own data: the link that proves an address (``supporter_links``),
seeing, downloading and changing it (``supporter_data``), erasing it (``supporter_erasure``); and retention."""

__all__ = [
    "logins",
    "password_links",
    "passwords",
    "retention",
    "staff",
    "supporter_data",
    "supporter_erasure",
    "supporter_links",
]
