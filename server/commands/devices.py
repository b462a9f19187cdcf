"""`phonegate device mark-lab SERIAL --reason TEXT` (and `--unmark`): lab and dock phones.

A lab or dock phone is reached over the network on purpose (a test rack, a kiosk dock), so the rule
no_network_adb does not apply to it; every other phone fails that rule while ADB over the network is on.
The reason is required and goes to the audit log with who ran the command.
"""

from __future__ import annotations

import click

from server.commands import command_app


@click.group()
def device() -> None:
    """Phones in the inventory."""


@device.command("mark-lab")
@click.argument("serial")
@click.option("--reason", required=True, help="Why this phone is (or is no longer) a lab or dock phone; audited.")
@click.option("--unmark", is_flag=True, help="Make it a work phone again: no_network_adb applies to it again.")
def mark_lab(serial: str, reason: str, unmark: bool) -> None:
    """Register phone SERIAL as a lab or dock phone (ADB over the network allowed), or with --unmark undo that."""
    from sqlalchemy import select

    from server.extensions import db
    from server.models import Device
    from server.services import devices, unit_of_work
    from server.services.actor import Actor
    from server.services.errors import NotFound

    serial = serial.strip()
    with command_app():
        with unit_of_work(db.session) as session:
            phone = session.scalar(select(Device).where(Device.serial == serial)) if serial else None
            if phone is None:
                raise NotFound(f"No phone with the serial {serial or '(blank)'} is registered (the serial is the one "
                               "on the phone's page or in `adb devices`); nothing was changed.")
            changed = devices.set_lab_phone(session, phone, not unmark, Actor.cli(), reason=reason)
    from phonegate.core.text import printable

    what = "a work phone again (no_network_adb applies)" if unmark else "a lab or dock phone (no_network_adb does not apply)"
    click.echo(printable(f"{serial} is {what}." if changed else f"{serial} already was {what.split(' (')[0]}; nothing was changed."))
