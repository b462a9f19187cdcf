"""Fixtures for the compliance part: a real SMTP server on loopback that keeps what it receives.

`smtp_server` is aiosmtpd's Controller (its own thread and event loop) on a free 127.0.0.1 port; messages are
parsed with the standard library so tests read them as a person would. `smtp_settings` is the app config that
points PhoneGate's mailer at it.
"""

from __future__ import annotations

import socket
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CollectingHandler:
    """aiosmtpd handler: accepts every message and keeps it with its envelope recipients."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self._lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, host: str, port: int, handler: CollectingHandler) -> None:
        self.host = host
        self.port = port
        self.handler = handler

    @property
    def messages(self) -> list[EmailMessage]:
        return list(self.handler.messages)

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m, (_, rcpts) in zip(self.handler.messages, self.handler.envelopes) if address in rcpts]

    def clear(self) -> None:
        self.handler.messages.clear()
        self.handler.envelopes.clear()


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    handler = CollectingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, handler)
    finally:
        controller.stop()


@pytest.fixture
def smtp_settings(smtp_server) -> dict[str, str]:
    """create_app overrides that send PhoneGate's mail to the loopback server."""
    return {
        "PHONEGATE_SMTP_HOST": smtp_server.host,
        "PHONEGATE_SMTP_PORT": str(smtp_server.port),
        "PHONEGATE_SMTP_FROM": "phonegate@council.example",
        "PHONEGATE_PUBLIC_URL": "https://phonegate.council.example",
    }
