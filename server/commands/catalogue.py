"""`phonegate app add APK --role individual|broadcast`: verify an APK and add it to the catalogue.

Exit 2 for bad input (no such file, not an APK, unknown role), 3 when the APK is refused (signatures do not
verify, the package is not allowed for the role, or the signer certificate is not pinned).
"""

from __future__ import annotations

from pathlib import Path

import click

from phonegate.core.errors import BadInput
from phonegate.core.text import printable
from server.commands.actor import acting_user_option, command_actor


@click.group()
def app() -> None:
    """The approved-app catalogue."""


@app.command("add")
@click.argument("apk", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--role", type=click.Choice(["individual", "broadcast"]), required=True,
              help="Which phones get it: individual work phones, or the service's Broadcast phone.")
@acting_user_option
def add(apk: Path, role: str, acting_as: str | None) -> None:
    """Verify APK (signatures, package, pinned signer) and add it for ROLE phones."""
    if not apk.is_file():
        raise BadInput(f"No APK file at {apk}.")

    from server.commands import command_app
    from server.services import unit_of_work
    from server.services.catalogue import add_app

    with command_app(), unit_of_work() as session:
        entry, created = add_app(session, apk, role, command_actor(session, acting_as))
        summary = (f"{entry.package} {entry.version_name or ''} (version code {entry.version_code}) for {entry.role} phones, "
                   f"APK SHA-256 {entry.sha256}, signer {entry.signer_sha256}")
    # The version name comes from the APK's manifest: untrusted until shown printable.
    click.echo(printable(("Added " if created else "Already in the catalogue: ") + summary))
