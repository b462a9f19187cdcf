"""`phonegate policy publish FILE --version LABEL`: publish a new acceptable-use policy version.

Publishing makes every earlier acknowledgement out of date; managers see "re-acknowledgement due" for the
phones whose approval rested on an older version.
"""

from __future__ import annotations

from pathlib import Path

import click

from phonegate.core.errors import BadInput
from phonegate.core.text import printable
from server.commands.actor import acting_user_option, command_actor


@click.group()
def policy() -> None:
    """Acceptable-use policy versions."""


@policy.command("publish")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--version", "label", required=True, help="A new, unique label for this version, e.g. 2026-11.")
@acting_user_option
def publish(file: Path, label: str, acting_as: str | None) -> None:
    """Publish FILE (UTF-8 text) as the current acceptable-use policy version."""
    from server.services.policy import TEXT_MAX_BYTES, publish_policy

    if not file.is_file():
        raise BadInput(f"No policy file at {file}.")
    with file.open("rb") as handle:
        raw = handle.read(TEXT_MAX_BYTES + 1)  # the service checks the length; never read a huge file whole
    if len(raw) > TEXT_MAX_BYTES:
        raise BadInput(f"{file} is far larger than an acceptable-use policy.")
    try:
        text = raw.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError:
        raise BadInput(f"{file} is not UTF-8 text.") from None

    from server.commands import command_app
    from server.services import unit_of_work

    with command_app(), unit_of_work() as session:
        version = publish_policy(session, text, label, command_actor(session, acting_as))
        label, digest = version.label, version.sha256
    click.echo(printable(f"Published policy version {label} (SHA-256 {digest}). Earlier acknowledgements are now out of date."))
