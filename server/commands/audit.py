"""`phonegate audit verify`: recompute the audit log's hash chain. Exit 0 intact, 1 naming the first broken entry."""

from __future__ import annotations

import click

from phonegate.core.errors import BadInput, PhoneGateError
from server.commands import command_app


class AuditChainBroken(PhoneGateError):
    exit_code = 1


@click.group()
def audit() -> None:
    """The audit log."""


@audit.command()
@click.option("--expect-head", "expect_head", metavar="SHA256",
              help="A head hash printed by an earlier verify: fail if it is gone (entries cut from the end).")
def verify(expect_head: str | None) -> None:
    """Check every entry's hash and its link to the entry before it.

    Keep the printed head hash somewhere else (a ticket, an email) and pass it back with --expect-head
    later: that also catches entries deleted from the end of the log, which a hash chain alone cannot see.
    """
    from server.extensions import db
    from server.services.audit import verify_chain

    if expect_head is not None and (len(expect_head) != 64 or not all(c in "0123456789abcdef" for c in expect_head)):
        raise BadInput("--expect-head must be a SHA-256 as 64 lowercase hex characters.")
    with command_app():
        ok, first_bad_id, message = verify_chain(db.session, expect_head)
    if not ok:
        raise AuditChainBroken(message)
    click.echo(message)
