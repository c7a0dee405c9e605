"""Building messages and handing them over: a real SMTP server (aiosmtpd) started by the tests, and the
development outbox folder. (What sends them, once, is the outbox worker: tests/unit/test_outbox.py.)"""

from __future__ import annotations

import email
from email import policy
from email.parser import BytesParser

import pytest

from campaigns.core.mail import (
    MailError,
    MailRefused,
    OutgoingMail,
    mail_mode,
    open_transport,
    parse_stored,
    render_message,
)
from campaigns.core.settings import override_settings
from tests.support.mail import smtp_settings
from tests.support.servers import free_port


def send(mail: OutgoingMail) -> str:
    """Build and hand over one message as the outbox worker does; returns its Message-ID."""
    transport = open_transport()
    raw = render_message(mail)
    try:
        transport.send(raw, mail.to_address)
    finally:
        transport.close()
    return str(parse_stored(raw)["Message-ID"])


def letter(**overrides) -> OutgoingMail:
    values = {
        "to_address": "mayor@city.example.gov",
        "to_name": "Mayor Ana Lima",
        "reply_to_address": "zoe@example.org",
        "reply_to_name": "Zoë Ångström",
        "subject": "Please keep the library open",
        "body": "Dear Mayor Lima,\n\n山田 and Ольга agree: keep it open.\n\nZoë",
    }
    values.update(overrides)
    return OutgoingMail(**values)


def received(handler) -> email.message.EmailMessage:
    [envelope] = handler.envelopes
    return BytesParser(policy=policy.default).parsebytes(envelope.content)


def test_a_letter_arrives_from_the_app_with_the_signer_as_reply_to(smtp_server):
    controller, handler = smtp_server
    with override_settings(**smtp_settings(controller, "Rally Letters <letters@rally.example.org>")):
        assert mail_mode() == "smtp"
        message_id = send(letter())
    message = received(handler)
    assert handler.envelopes[0].rcpt_tos == ["mayor@city.example.gov"]
    assert message["From"] == "Rally Letters <letters@rally.example.org>"
    assert message["To"] == "Mayor Ana Lima <mayor@city.example.gov>"
    assert message["Reply-To"] == "Zoë Ångström <zoe@example.org>"
    assert message["Subject"] == "Please keep the library open" and message["Message-ID"] == message_id
    assert "山田 and Ольга agree" in message.get_content()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subject", "Hello\r\nBcc: victim@example.org"),
        ("reply_to_name", "Zoë\nBcc: victim@example.org"),
        ("to_name", "Mayor\r\nX-Injected: yes"),
    ],
)
def test_cr_lf_in_names_or_subject_cannot_add_headers(smtp_server, field, value):
    controller, handler = smtp_server
    with override_settings(**smtp_settings(controller, "letters@rally.example.org")):
        send(letter(**{field: value}))
    message = received(handler)
    assert message["Bcc"] is None and message["X-Injected"] is None
    assert handler.envelopes[0].rcpt_tos == ["mayor@city.example.gov"]


def test_a_bad_recipient_address_is_refused_before_sending(smtp_server):
    controller, handler = smtp_server
    with (
        override_settings(**smtp_settings(controller, "letters@rally.example.org")),
        pytest.raises(MailError, match="recipient"),
    ):
        send(letter(to_address="mayor@\r\nevil"))
    assert handler.envelopes == []


def test_an_unreachable_server_is_a_clear_mail_error():
    with (
        override_settings(
            smtp_host="127.0.0.1", smtp_port=free_port(), smtp_security="none", mail_from="letters@rally.example.org"
        ),
        pytest.raises(MailRefused, match="could not be reached") as refused,
    ):
        send(letter())
    assert not refused.value.permanent  # the outbox tries again later


def test_outbox_mode_writes_whole_eml_files(tmp_path):
    outbox = tmp_path / "outbox"
    with override_settings(mail_outbox=str(outbox), mail_from="letters@rally.example.org"):
        assert mail_mode() == "outbox"
        send(letter())
    [file] = list(outbox.glob("*.eml"))
    message = BytesParser(policy=policy.default).parsebytes(file.read_bytes())
    assert message["To"] == "Mayor Ana Lima <mayor@city.example.gov>"
    assert not list(outbox.glob("*.tmp"))


def test_without_settings_email_is_not_offered():
    with override_settings(smtp_host="", mail_outbox=""):
        assert mail_mode() is None
        with pytest.raises(MailError, match="not configured"):
            send(letter())


def test_by_default_mail_goes_to_the_development_outbox_folder_until_smtp_is_set(tmp_path):
    from campaigns.core.mail import outbox_folder
    from campaigns.core.settings import PROJECT_ROOT, load_settings

    documented = load_settings(environ={}, env_file=tmp_path / "no.env")
    assert documented.mail_outbox == "var/outbox" and outbox_folder(documented) == PROJECT_ROOT / "var" / "outbox"
    assert mail_mode(documented) == "outbox"
    with override_settings(smtp_host="mail.example.org"):
        assert mail_mode() == "smtp"  # a configured server always wins


def test_the_development_outbox_needs_no_sender_configured(tmp_path):
    with override_settings(mail_outbox=str(tmp_path), mail_from=""):
        message = parse_stored(render_message(letter()))
    assert message["From"].addresses[0].domain == "localhost"


def test_a_stored_message_is_plain_ascii_and_reads_back_the_same(tmp_path):
    subject = "Ünïcödé " * 30 + "and a long ending"  # folded over several lines, encoded
    with override_settings(mail_outbox=str(tmp_path), mail_from="Zoë <letters@rally.example.org>"):
        stored = render_message(letter(subject=subject, body="=, tabs\tand trailing spaces   \n.\n" + "x" * 200))
    assert stored.isascii() and all(len(line) <= 998 for line in stored.splitlines())
    again = parse_stored(stored)
    assert again["Reply-To"] == "Zoë Ångström <zoe@example.org>" and again["From"] == "Zoë <letters@rally.example.org>"
    assert again["Subject"] == subject.strip()
    assert again.get_content() == "=, tabs\tand trailing spaces   \n.\n" + "x" * 200 + "\n"


def test_an_internationalized_address_is_built_by_the_email_package(tmp_path):
    with override_settings(mail_outbox=str(tmp_path), mail_from="letters@rally.example.org"):
        stored = render_message(letter(to_address="josé@example.org"))
    assert parse_stored(stored)["To"].addresses[0].username == "josé"
