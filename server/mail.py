"""Outgoing e-mail over SMTP (settings PHONEGATE_SMTP_*).

One connection per batch: a sweep sends one message per manager, so a batch is small, but opening a
connection per message would be slow against a real relay. Each message reports whether it was accepted, so
the caller records a notification as sent only when it really left (a failed one is retried next sweep).
Addresses are personal data: they never go to the log.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from server.settings import SmtpSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MailMessage:
    to: str
    subject: str
    body: str


def send_messages(smtp: SmtpSettings, messages: list[MailMessage]) -> list[bool]:
    """Send each message; return, per message, whether the relay accepted it. Never raises for SMTP trouble."""
    if not messages:
        return []
    if not smtp.host:
        log.warning("%d notification(s) not sent: PHONEGATE_SMTP_HOST is not set", len(messages))
        return [False] * len(messages)
    try:
        connection = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s)
    except (OSError, smtplib.SMTPException) as exc:
        log.error("cannot reach the SMTP relay %s:%s (%s); notifications will be retried", smtp.host, smtp.port, exc)
        return [False] * len(messages)
    accepted: list[bool] = []
    try:
        connection.ehlo()
        if smtp.starttls:
            connection.starttls(context=ssl.create_default_context())
            connection.ehlo()
        if smtp.username:
            connection.login(smtp.username, smtp.password or "")
        for message in messages:
            accepted.append(_send_one(connection, smtp.sender, message))
    except (OSError, smtplib.SMTPException) as exc:
        log.error("SMTP session failed (%s); %d notification(s) will be retried", type(exc).__name__,
                  len(messages) - sum(accepted))
    finally:
        try:
            connection.quit()
        except (OSError, smtplib.SMTPException):
            connection.close()
    return accepted + [False] * (len(messages) - len(accepted))


def _send_one(connection: smtplib.SMTP, sender: str, message: MailMessage) -> bool:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.to
    email["Subject"] = message.subject
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = make_msgid(domain="phonegate")
    email.set_content(message.body)
    try:
        refused = connection.send_message(email)
    except smtplib.SMTPRecipientsRefused:
        log.error("the SMTP relay refused a recipient; that notification will be retried")
        return False
    except smtplib.SMTPResponseException as exc:
        log.error("the SMTP relay refused a message (%s)", exc.smtp_code)
        return False
    return not refused
