"""Outgoing mail: building messages, and the transports the outbox worker hands them to.

Nothing here is called to *send* from a page or a service: every message goes into the outbox table
(``campaigns.outbox.enqueue``) in the transaction of the change it reports, and a worker delivers it
through :func:`open_transport`: SMTP, or the development outbox folder (``.eml`` files).

Header values are built with the email package's ``Address`` objects and one-line text: a CR or LF
typed into a name or a subject can never start a new header. Bodies are quoted-printable UTF-8, so a
stored message is plain ASCII and goes out byte for byte as it was built.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
import tempfile
from dataclasses import dataclass
from email import message_from_string, policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from pathlib import Path
from typing import Protocol

from campaigns.errors import RallyError
from campaigns.settings import PROJECT_ROOT, Settings, SettingsError, get_settings
from campaigns.validation import clean_email

SECURITY = ("starttls", "ssl", "none")
SUBJECT_MAX = 300
SMTP_TIMEOUT_SECONDS = 15
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
# The development outbox needs no sender configured: its messages never leave the machine.
_DEV_SENDER_DOMAIN = "localhost"


class MailError(RallyError):
    """A message could not be built or handed over."""


class MailRefused(MailError):
    """The mail server answered that it will not take the message. ``permanent``: a 5xx answer (do not retry)."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class MailUncertain(MailError):
    """The connection broke after the message was handed over: it may or may not have been delivered."""


@dataclass(frozen=True)
class OutgoingMail:
    to_address: str
    to_name: str
    reply_to_address: str
    reply_to_name: str
    subject: str
    body: str
    # Extra headers (e.g. List-Unsubscribe); names and values are made one-line.
    headers: tuple[tuple[str, str], ...] = ()


def mail_mode(settings: Settings | None = None) -> str | None:
    """ "smtp" when a mail server is configured, "outbox" for the development folder, None when mail is off."""
    settings = settings or get_settings()
    if settings.smtp_host:
        return "smtp"
    return "outbox" if settings.mail_outbox else None


def outbox_folder(settings: Settings | None = None) -> Path:
    """The development outbox folder (a relative setting is relative to the project folder)."""
    settings = settings or get_settings()
    folder = Path(settings.mail_outbox).expanduser()
    return folder if folder.is_absolute() else PROJECT_ROOT / folder


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


def sender(settings: Settings | None = None) -> Address:
    """The From address: RALLY_MAIL_FROM, or (development outbox only, when that is empty) rally@localhost."""
    settings = settings or get_settings()
    if not settings.mail_from.strip() and mail_mode(settings) == "outbox":
        return Address(display_name=one_line(settings.org_name, 120), username="rally", domain=_DEV_SENDER_DOMAIN)
    pairs = getaddresses([settings.mail_from])
    if len(pairs) != 1 or "@" not in pairs[0][1]:
        raise SettingsError("RALLY_MAIL_FROM must be one address, e.g. “Rally <letters@example.org>”.")
    name, address = pairs[0]
    return _address(name, address, "sender")


def build_message(mail: OutgoingMail, settings: Settings | None = None) -> EmailMessage:
    settings = settings or get_settings()
    from_ = sender(settings)
    message = EmailMessage()
    message["From"] = from_
    message["To"] = _address(mail.to_name, mail.to_address, "recipient")
    if mail.reply_to_address:
        message["Reply-To"] = _address(mail.reply_to_name, mail.reply_to_address, "reply-to")
    message["Subject"] = one_line(mail.subject)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=from_.domain)
    for name, value in mail.headers:
        message[one_line(name, 60)] = one_line(value, 900)
    message.set_content(mail.body.replace("\r\n", "\n"), charset="utf-8", cte="quoted-printable")
    return message


def parse_stored(text: str) -> EmailMessage:
    """A message as the outbox stored it (``EmailMessage.as_string()``), ready to hand over."""
    parsed = message_from_string(text, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


class Transport(Protocol):
    def send(self, message: EmailMessage) -> None: ...

    def close(self) -> None: ...


class FolderTransport:
    """Development: each message becomes an ``.eml`` file in the outbox folder (written whole, never half)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: EmailMessage) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9.@-]", "", str(message["Message-ID"])) or "message"
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                handle.write(message.as_bytes())
            os.replace(tmp, self.folder / f"{name}.eml")
        except OSError as exc:
            raise MailRefused(f"Could not write to the outbox folder {self.folder}: {exc}", permanent=False) from exc

    def close(self) -> None:
        pass


class SmtpTransport:
    """One SMTP connection, opened on the first message and reused for the rest of a batch."""

    def __init__(self, settings: Settings) -> None:
        if settings.smtp_security not in SECURITY:
            raise SettingsError(f"RALLY_SMTP_SECURITY must be one of {', '.join(SECURITY)}.")
        self.settings = settings
        self._client: smtplib.SMTP | None = None

    @property
    def _where(self) -> str:
        return f"{self.settings.smtp_host}:{self.settings.smtp_port}"

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        try:
            if settings.smtp_security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    settings.smtp_host,
                    settings.smtp_port,
                    timeout=SMTP_TIMEOUT_SECONDS,
                    context=ssl.create_default_context(),
                )
            else:
                client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS)
            if settings.smtp_security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                client.login(settings.smtp_username, settings.smtp_password)
        except smtplib.SMTPResponseException as exc:
            raise MailRefused(self._answer(exc), permanent=exc.smtp_code >= 500) from exc
        except (smtplib.SMTPException, OSError) as exc:  # nothing was handed over yet: safe to retry
            raise MailRefused(f"The mail server at {self._where} could not be reached: {exc}", permanent=False) from exc
        return client

    def _answer(self, exc: smtplib.SMTPResponseException) -> str:
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"The mail server at {self._where} answered {exc.smtp_code} {one_line(text, 300)}"

    def send(self, message: EmailMessage) -> None:
        if self._client is None:
            self._client = self._connect()
        try:
            refused = self._client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:  # every recipient refused: nothing was delivered
            code, text = next(iter(exc.recipients.values()))
            answer = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
            raise MailRefused(
                f"The mail server at {self._where} refused the recipient: {code} {one_line(answer, 300)}",
                permanent=code >= 500,
            ) from exc
        except smtplib.SMTPResponseException as exc:  # an answer before or after DATA: not delivered
            self._drop()
            raise MailRefused(self._answer(exc), permanent=exc.smtp_code >= 500) from exc
        except (smtplib.SMTPException, OSError) as exc:  # the connection broke mid-way: it may have gone
            self._drop()
            raise MailUncertain(f"The connection to {self._where} broke while sending: {exc}") from exc
        if refused:
            raise MailRefused(f"The mail server at {self._where} refused: {refused}", permanent=True)

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except OSError:
                pass

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()


def open_transport(settings: Settings | None = None) -> Transport:
    """Where the worker hands messages: the SMTP server, or the development folder."""
    settings = settings or get_settings()
    mode = mail_mode(settings)
    if mode == "smtp":
        return SmtpTransport(settings)
    if mode == "outbox":
        return FolderTransport(outbox_folder(settings))
    raise MailError("Email is not configured (set RALLY_SMTP_HOST, or RALLY_MAIL_OUTBOX for development).")
