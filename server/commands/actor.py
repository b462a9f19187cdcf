"""Who ran a server command: the operating-system account that ran it and, with `--as EMAIL`, the PhoneGate user.

A state-changing command without --as is still allowed, recorded as the operating-system account alone. Whoever
can run `phonegate` on the server machine can already read and write its database and instance folder, so
demanding a PhoneGate identity there would be a formality, not a control, and it would lock the administrator
out of their own server on the day the accounts are broken (the first administrator, a lost password). What
information governance needs is that no entry is anonymous: the account name and host say who to ask, without
copying a name or an e-mail address into an audit log that is kept for years. --as adds the person, checked
against an active PhoneGate user before anything is changed.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import click

from phonegate.core.errors import BadInput
from phonegate.core.text import printable

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from server.services.actor import Actor

F = TypeVar("F", bound=Callable)

# The audit entry's actor column holds 64 characters: "cli:" + 32 for the account name + "@" + 27 for the host.
MAX_ACCOUNT_NAME = 32
MAX_HOST_NAME = 27


def acting_user_option(command: F) -> F:
    """The `--as EMAIL` option of every server command that changes something."""
    return click.option("--as", "acting_as", metavar="EMAIL",
                        help="The PhoneGate user (an active one) doing this; the audit log records them "
                             "and this computer's account. Without it, only the account is recorded.")(command)


def os_account() -> str:
    """"alice@bench-pc": the operating-system account running this process and the machine's name, printable
    and short enough for the audit entry (both are whatever the machine says, so neither is trusted)."""
    try:
        name = getpass.getuser()
    except Exception:  # no login name and no passwd entry (a bare container): the uid still says who
        name = f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    host = socket.gethostname() or "unknown-host"
    return f"{_bounded(name, MAX_ACCOUNT_NAME) or 'unknown'}@{_bounded(host, MAX_HOST_NAME) or 'unknown-host'}"


def _bounded(text: str, limit: int) -> str:
    return printable(" ".join(text.split()))[:limit]


def command_actor(session: Session, acting_as: str | None) -> Actor:
    """The actor for this command's audit entries; BadInput (exit 2) for an --as that names no active user.
    Call it inside the command's unit of work, before the change, so a refusal leaves nothing changed."""
    from server.services import people
    from server.services.actor import Actor
    from server.services.errors import NotFound

    account = os_account()
    if acting_as is None:
        return Actor.at_command_line(account)
    email = acting_as.strip()
    if not email:
        raise BadInput("--as needs the e-mail address of a PhoneGate user; nothing was changed.")
    try:
        user = people.user_by_email(session, email)
    except NotFound:
        raise BadInput(f"--as {email}: no PhoneGate user has that e-mail address; nothing was changed.") from None
    if not user.active:
        raise BadInput(f"--as {email}: that user is deactivated, so cannot act; nothing was changed.")
    return Actor.at_command_line(account, user)
