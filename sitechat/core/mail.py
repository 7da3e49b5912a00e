"""Outgoing mail behind one small interface: SMTP when configured, else the log.

Outside production the log mailer is the delivery channel of a fresh install: the message,
reset link included, goes to the log as `mail.sent`. The body is logged under `body`, a field
name the redaction processor leaves alone, because reading that link is the whole point of
this mailer. Production without SMTP sends nothing and logs only that a mail was not sent
(`mail.not_sent`, recipient and subject): there, whoever reads the logs must not be able to
take over an account with its reset link.
"""

from __future__ import annotations

import asyncio
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Protocol

import structlog

from sitechat.config import Environment, MailSettings

log = structlog.get_logger()

SMTP_TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True)
class MailMessage:
    to: str
    subject: str
    body: str


class Mailer(Protocol):
    async def send(self, message: MailMessage) -> None: ...


class LogMailer:
    """Writes each message to the log instead of sending it (development, tests)."""

    async def send(self, message: MailMessage) -> None:
        log.info("mail.sent", to=message.to, subject=message.subject, body=message.body)


class UnsentMailer:
    """Production without an SMTP host: the message is dropped, and the log says so."""

    async def send(self, message: MailMessage) -> None:
        log.warning(
            "mail.not_sent",
            to=message.to,
            subject=message.subject,
            reason="SITECHAT_MAIL_SMTP_HOST is not set",
        )


class SmtpMailer:
    """Sends through an SMTP server with STARTTLS; smtplib runs in a worker thread."""

    def __init__(self, settings: MailSettings) -> None:
        if not settings.smtp_host:
            raise ValueError("SmtpMailer needs an SMTP host")
        self._host = settings.smtp_host
        self._port = settings.smtp_port
        self._user = settings.smtp_user
        self._password = settings.smtp_password.get_secret_value()
        self._sender = settings.sender

    async def send(self, message: MailMessage) -> None:
        await asyncio.to_thread(self._send_blocking, message)
        log.info("mail.sent", to=message.to, subject=message.subject, via="smtp")

    def _send_blocking(self, message: MailMessage) -> None:
        email = EmailMessage()
        email["From"] = self._sender
        email["To"] = message.to
        email["Subject"] = message.subject
        email.set_content(message.body)
        with smtplib.SMTP(self._host, self._port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
            smtp.starttls()
            if self._user:
                smtp.login(self._user, self._password)
            smtp.send_message(email, from_addr=parseaddr(self._sender)[1])


def build_mailer(settings: MailSettings, env: Environment) -> Mailer:
    if settings.smtp_host:
        return SmtpMailer(settings)
    return UnsentMailer() if env is Environment.production else LogMailer()
