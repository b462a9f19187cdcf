"""`phonegate policy publish FILE --version LABEL`: publish a new acceptable-use policy version.

Publishing makes every earlier acknowledgement out of date; managers see "re-acknowledgement due" for the
phones whose approval rested on an older version.
"""

from __future__ import annotations

from pathlib import Path

import click

from phonegate.core.errors import BadInput


@click.group()
def policy() -> None:
    """Acceptable-use policy versions."""


@policy.command("publish")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--version", "label", required=True, help="A new, unique label for this version, e.g. 2026-11.")
def publish(file: Path, label: str) -> None:
    """Publish FILE (UTF-8 text) as the current acceptable-use policy version."""
    if not file.is_file():
        raise BadInput(f"No policy file at {file}.")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"{file} is not UTF-8 text.") from None

    from server import create_app
    from server.services import unit_of_work
    from server.services.actor import Actor
    from server.services.policy import publish_policy

    app = create_app()
    with app.app_context(), unit_of_work() as session:
        version = publish_policy(session, text, label, Actor.cli())
        label, digest = version.label, version.sha256
    click.echo(f"Published policy version {label} (SHA-256 {digest}). Earlier acknowledgements are now out of date.")
