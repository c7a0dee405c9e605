"""Outgoing mail: letters to targets over SMTP, or into an outbox folder during development.

Header values are built with the email package's ``Address`` objects and one-line text:
a CR or LF typed into a name or a subject can never start a new header.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
import tempfile
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from pathlib import Path

from campaigns.errors import RallyError
from campaigns.settings import Settings, SettingsError, get_settings
from campaigns.validation import clean_email

SECURITY = ("starttls", "ssl", "none")
SUBJECT_MAX = 300
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


class MailError(RallyError):
    """A message could not be sent (the outreach is marked failed and retried later)."""


@dataclass(frozen=True)
class OutgoingMail:
    to_address: str
    to_name: str
    reply_to_address: str
    reply_to_name: str
    subject: str
    body: str


def mail_mode(settings: Settings | None = None) -> str | None:
    """ "smtp", "outbox", or None when email delivery is not configured (and so not offered)."""
    settings = settings or get_settings()
    if settings.mail_outbox:
        return "outbox"
    return "smtp" if settings.smtp_host else None


def one_line(text: str, limit: int = SUBJECT_MAX) -> str:
    """Header-safe text: control characters (CR, LF, tabs…) become single spaces."""
    return _CONTROL.sub(" ", text or "").strip()[:limit]


def _address(name: str, address: str, what: str) -> Address:
    try:
        checked, _ = clean_email(address, field=what)
    except RallyError as exc:
        raise MailError(f"The {what} address “{one_line(address, 80)}” is not valid.") from exc
    local, _, domain = checked.rpartition("@")
    return Address(display_name=one_line(name, 120), username=local, domain=domain)


def _sender(settings: Settings) -> Address:
    pairs = getaddresses([settings.mail_from])
    if len(pairs) != 1 or "@" not in pairs[0][1]:
        raise SettingsError("RALLY_MAIL_FROM must be one address, e.g. “Rally <letters@example.org>”.")
    name, address = pairs[0]
    return _address(name, address, "sender")


def build_message(mail: OutgoingMail, settings: Settings | None = None) -> EmailMessage:
    settings = settings or get_settings()
    sender = _sender(settings)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = _address(mail.to_name, mail.to_address, "recipient")
    message["Reply-To"] = _address(mail.reply_to_name, mail.reply_to_address, "reply-to")
    message["Subject"] = one_line(mail.subject)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.domain)
    message.set_content(mail.body.replace("\r\n", "\n"), charset="utf-8")
    return message


def send(mail: OutgoingMail, settings: Settings | None = None) -> str:
    """Deliver one message; returns its Message-ID. Raises MailError with a reason an organizer can act on."""
    settings = settings or get_settings()
    mode = mail_mode(settings)
    if mode is None:
        raise MailError("Email delivery is not configured (set RALLY_SMTP_HOST, or RALLY_MAIL_OUTBOX for development).")
    message = build_message(mail, settings)
    if mode == "outbox":
        _write_outbox(Path(settings.mail_outbox), message)
    else:
        _send_smtp(message, settings)
    return str(message["Message-ID"])


def _write_outbox(folder: Path, message: EmailMessage) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9.@-]", "", str(message["Message-ID"])) or "message"
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        handle.write(message.as_bytes())
    os.replace(tmp, folder / f"{name}.eml")  # whole files only, never a half-written one


def _send_smtp(message: EmailMessage, settings: Settings) -> None:
    if settings.smtp_security not in SECURITY:
        raise SettingsError(f"RALLY_SMTP_SECURITY must be one of {', '.join(SECURITY)}.")
    try:
        if settings.smtp_security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.smtp_host, settings.smtp_port, timeout=15, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=15)
        with client:
            if settings.smtp_security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                client.login(settings.smtp_username, settings.smtp_password)
            client.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise MailError(
            f"The mail server at {settings.smtp_host}:{settings.smtp_port} refused or failed: {exc}"
        ) from exc
