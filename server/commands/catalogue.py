"""`phonegate app add APK [SPLIT_APK ...] --role individual|broadcast`: verify an APK, or an APK set (the base APK
and its split APKs as separate files, as `adb install-multiple` takes them), and add it to the catalogue.

Exit 2 for bad input (no such file, not an APK, an .apks/.xapk bundle instead of its APKs, unknown role), 3 when
the APK is refused (signatures do not verify, the files are not one set, the package is not allowed for the role,
or the signer certificate is not pinned).
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
@click.argument("apks", metavar="APK [SPLIT_APK]...", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--role", type=click.Choice(["individual", "broadcast"]), required=True,
              help="Which phones get it: individual work phones, or the service's Broadcast phone.")
@acting_user_option
def add(apks: tuple[Path, ...], role: str, acting_as: str | None) -> None:
    """Verify APK (signatures, package, pinned signer) and add it for ROLE phones. For an app shipped as a base
    and splits, give the base APK and every split APK: they are verified and installed as one set."""
    for apk in apks:
        if not apk.is_file():
            raise BadInput(f"No APK file at {apk}.")

    from server.commands import command_app
    from server.services import unit_of_work
    from server.services.catalogue import add_app

    with command_app(), unit_of_work() as session:
        entry, created = add_app(session, list(apks), role, command_actor(session, acting_as))
        kind = "APK" if len(entry.files) == 1 else f"APK set of {len(entry.files)} files"
        summary = (f"{entry.package} {entry.version_name or ''} (version code {entry.version_code}) for {entry.role} phones, "
                   f"{kind} SHA-256 {entry.sha256}, signer {entry.signer_sha256}")
        files = [f"  {item.name} SHA-256 {item.sha256} ({item.size:,} bytes)" for item in entry.files] if len(entry.files) > 1 else []
    # The version name and split names come from the APKs' manifests: untrusted until shown printable.
    click.echo(printable(("Added " if created else "Already in the catalogue: ") + summary))
    for line in files:
        click.echo(printable(line))
