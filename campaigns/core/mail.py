"""Outgoing mail: building messages, and the transports the outbox worker hands them to.

Nothing here is called to *send* from a page or a service: every message goes into the outbox table
(``campaigns.core.outbox.enqueue``) in the transaction of the change it reports, and a worker delivers it
through :func:`open_transport`: SMTP, or the development outbox folder (``.eml`` files).

Header values are one-line text (a CR or LF typed into a name or a subject can never start a new
header), non-ASCII ones encoded as RFC 2047 words; bodies are quoted-printable UTF-8. So a stored
message is plain ASCII and goes out byte for byte as it was built, without being parsed again.
:func:`render_message` writes that text directly (the ``email`` package's object model costs about
2.7 ms a message, most of a sign-on that queues a confirmation); an address that is not ASCII (which
needs SMTPUTF8) goes through the ``email`` package instead (:func:`build_message`).
"""

from __future__ import annotations

import os
import quopri
import re
import smtplib
import ssl
import tempfile
from dataclasses import dataclass
from email import message_from_string, policy
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formataddr, formatdate, getaddresses, make_msgid
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from campaigns.core.errors import RallyError
from campaigns.core.settings import PROJECT_ROOT, Settings, SettingsError, get_settings
from campaigns.core.validation import clean_email

SECURITY = ("starttls", "ssl", "none")
SUBJECT_MAX = 300
SMTP_TIMEOUT_SECONDS = 15
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
# The development outbox needs no sender configured: its messages never leave the machine.
_DEV_SENDER_DOMAIN = "localhost"
_SPACE = re.compile(r"\s")
_MESSAGE_ID = re.compile(r"^Message-ID: <([^>\r\n]{1,200})>", re.MULTILINE)


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
    return _configured_sender(settings.mail_from)


@lru_cache(maxsize=8)
def _configured_sender(mail_from: str) -> Address:
    """RALLY_MAIL_FROM, checked once per value (the check validates the address)."""
    pairs = getaddresses([mail_from])
    if len(pairs) != 1 or "@" not in pairs[0][1]:
        raise SettingsError("RALLY_MAIL_FROM must be one address, e.g. “Rally <letters@example.org>”.")
    name, address = pairs[0]
    return _address(name, address, "sender")


def _plain_address(address: str, what: str) -> str:
    """An address for a header or the envelope: one token with one @ and no control characters or spaces.
    (Addresses reach here already validated where they were typed; this only keeps a header a header.)"""
    value = (address or "").strip()
    if not value or value != one_line(value, 320) or " " in value or value.count("@") != 1 or len(value) > 320:
        raise MailError(f"The {what} address “{one_line(address, 80)}” is not valid.")
    local, _, domain = value.rpartition("@")
    if not local or not domain or any(ch in value for ch in '<>",;()[]\\'):
        raise MailError(f"The {what} address “{one_line(address, 80)}” is not valid.")
    return value


def _header(value: str, name: str) -> str:
    text = one_line(value, 900)
    if text.isascii() and (len(name) + len(text) < 76 or not _SPACE.search(text)):
        return text  # short, or one word that no folding could break (a List-Unsubscribe <address>)
    return Header(text, "us-ascii" if text.isascii() else "utf-8", header_name=name).encode()


def render_message(mail: OutgoingMail, settings: Settings | None = None) -> str:
    """The whole message as stored in the outbox and handed to SMTP as it is (``\\n`` line endings)."""
    settings = settings or get_settings()
    from_ = sender(settings)
    to = _plain_address(mail.to_address, "recipient")
    reply = _plain_address(mail.reply_to_address, "reply-to") if mail.reply_to_address else None
    if not (to.isascii() and (reply or "").isascii() and from_.addr_spec.isascii()):
        return build_message(mail, settings).as_string()  # needs SMTPUTF8: the email package does it right
    lines = [
        f"From: {formataddr((one_line(from_.display_name, 120), from_.addr_spec), charset='utf-8')}",
        f"To: {formataddr((one_line(mail.to_name, 120), to), charset='utf-8')}",
    ]
    if reply:
        lines.append(f"Reply-To: {formataddr((one_line(mail.reply_to_name, 120), reply), charset='utf-8')}")
    lines += [
        f"Subject: {_header(one_line(mail.subject), 'Subject')}",
        f"Date: {formatdate(usegmt=True)}",
        f"Message-ID: {make_msgid(domain=from_.domain)}",
    ]
    for name, value in mail.headers:
        lines.append(f"{one_line(name, 60)}: {_header(value, one_line(name, 60))}")
    lines += [
        "MIME-Version: 1.0",
        'Content-Type: text/plain; charset="utf-8"',
        "Content-Transfer-Encoding: quoted-printable",
    ]
    body = quopri.encodestring(mail.body.replace("\r\n", "\n").encode("utf-8")).decode("ascii")
    return "\n".join(lines) + "\n\n" + body + ("" if body.endswith("\n") else "\n")


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
    def send(self, raw: str, recipient: str) -> None: ...

    def close(self) -> None: ...


class FolderTransport:
    """Development: each message becomes an ``.eml`` file in the outbox folder (written whole, never half)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, raw: str, recipient: str) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            found = _MESSAGE_ID.search(raw)
            name = re.sub(r"[^A-Za-z0-9.@-]", "", found.group(1) if found else "") or "message"
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                handle.write(raw.encode("utf-8"))
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
        self._envelope_sender = sender(settings).addr_spec

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

    def send(self, raw: str, recipient: str) -> None:
        if self._client is None:
            self._client = self._connect()
        try:
            if raw.isascii():  # as stored: no parsing, no flattening again
                refused = self._client.sendmail(self._envelope_sender, [recipient], raw)
            else:  # an internationalized address: the email package negotiates SMTPUTF8
                refused = self._client.send_message(parse_stored(raw))
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
