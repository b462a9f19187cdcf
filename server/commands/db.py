"""`phonegate db upgrade`: apply the Alembic migrations to PHONEGATE_DATABASE_URL."""

from __future__ import annotations

import click

from server.commands import command_app


@click.group()
def db() -> None:
    """Database migrations."""


@db.command()
def upgrade() -> None:
    """Apply all migrations (safe to run again: does nothing when the database is current)."""
    import flask_migrate

    from server.commands.first_admin import ensure_first_admin

    with command_app() as app:
        flask_migrate.upgrade(directory=app.extensions["migrate"].directory)
        ensure_first_admin()
    click.echo("Database is up to date.", err=True)


@db.command()
def current() -> None:
    """Show the revision the database is at."""
    import flask_migrate

    with command_app() as app:
        flask_migrate.current(directory=app.extensions["migrate"].directory)
