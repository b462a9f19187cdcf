"""The first admin of an empty database, created by `db upgrade` or `serve`, password shown once."""

from __future__ import annotations

import click
from sqlalchemy.exc import IntegrityError

from server.extensions import db
from server.services.actor import Actor
from server.services.errors import Conflict
from server.services.people import create_first_admin


def ensure_first_admin() -> None:
    try:
        created = create_first_admin(db.session, Actor.system())
        db.session.commit()
    except (IntegrityError, Conflict):
        db.session.rollback()  # another process created it at the same moment; it printed the password
        return
    if created is not None:
        user, password = created
        # stdout, once, to the person who started the server: never to a log.
        click.echo(f"First admin: {user.email} / {password} (change it after logging in)")
