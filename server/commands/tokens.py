"""`phonegate token create --user EMAIL --scope provision|agent|station`: the token is printed once, on stdout."""

from __future__ import annotations

import click

from server.commands import command_app
from server.commands.actor import acting_user_option, command_actor


@click.group()
def token() -> None:
    """API tokens for `phonegate provision` (scope provision) , sweep agents (scope agent) and check-in stations (scope station)."""


@token.command("create")
@click.option("--user", "email", required=True, help="Email of the user the token acts for (IT or admin).")
@click.option("--scope", required=True, type=click.Choice(["provision", "agent", "station"]), help="What the token may do.")
@acting_user_option
def create(email: str, scope: str, acting_as: str | None) -> None:
    """Create a token; it is shown once and only its hash is kept."""
    from server.extensions import db
    from server.services import people, tokens, unit_of_work

    with command_app():
        with unit_of_work(db.session) as session:
            actor = command_actor(session, acting_as)
            holder = people.user_by_email(session, email)
            plaintext, created = tokens.create_token(session, holder, scope, actor)
        click.echo(plaintext)  # stdout carries only the token, so `TOKEN=$(phonegate token create ...)` works
        click.echo(f"Token {created.id} ({scope}) created; it will not be shown again.", err=True)


@token.command("revoke")
@click.argument("token_id", type=int)
@acting_user_option
def revoke(token_id: int, acting_as: str | None) -> None:
    """Revoke token TOKEN_ID (the number printed when it was created)."""
    from server.extensions import db
    from server.services import tokens, unit_of_work

    with command_app():
        with unit_of_work(db.session) as session:
            tokens.revoke_token(session, token_id, command_actor(session, acting_as))
        click.echo(f"Token {token_id} revoked.", err=True)
