"""`phonegate audit verify`: recompute the audit log's hash chain. Exit 0 intact, 1 naming the first broken entry."""

from __future__ import annotations

import click

from phonegate.errors import PhoneGateError
from server.commands import command_app


class AuditChainBroken(PhoneGateError):
    exit_code = 1


@click.group()
def audit() -> None:
    """The audit log."""


@audit.command()
def verify() -> None:
    """Check every entry's hash and its link to the entry before it."""
    from server.extensions import db
    from server.services.audit import verify_chain

    with command_app():
        ok, first_bad_id, message = verify_chain(db.session)
    if not ok:
        raise AuditChainBroken(message)
    click.echo(message)
