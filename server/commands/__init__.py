"""The server's subcommands of `phonegate` (one module per group, mapped in phonegate/cli.py).

Each command builds the app from the environment with `command_app()`, does its work through the services,
and commits once; failures are PhoneGateError subclasses, which the console script turns into an exit code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask


@contextmanager
def command_app() -> Iterator[Flask]:
    """The app from the environment with an app context pushed; connections closed afterwards."""
    from server import create_app
    from server.extensions import db

    app = create_app()
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()
