"""`phonegate device retire|reinstate|report-lost SERIAL --reason TEXT`: the phone actions of its page; and
`phonegate device mark-lab SERIAL --reason TEXT [--unmark]`: lab and dock phones.

A lab or dock phone is reached over the network on purpose (a test rack, a kiosk dock), so the rule
no_network_adb does not apply to it; every other phone fails that rule while ADB over the network is on.

The rules (who may, which states, what ends with a retirement) are server/services/phone_actions.py; a refusal is
exit 3 (audited), bad input exit 2 (nothing changed).
"""

from __future__ import annotations

import click

from phonegate.core.text import printable
from server.commands import command_app
from server.commands.actor import acting_user_option, command_actor

REASON_HELP = "Why (kept with the action, shown on the phone's page)."


def _registered_phone(session, serial: str):  # type: ignore[no-untyped-def]
    """The phone SERIAL names (devices.get_by_serial), or exit 2 with where to find the serial."""
    from server.services import devices
    from server.services.errors import NotFound

    serial = serial.strip()
    try:
        if serial:
            return devices.get_by_serial(session, serial)
    except NotFound:
        pass
    raise NotFound(f"No phone with the serial {serial or '(blank)'} is registered (the serial is the one "
                   "on the phone's page or in `adb devices`); nothing was changed.")


@click.group()
def device() -> None:
    """Act on one phone: retire it, reinstate it, report it lost or stolen, mark it a lab or dock phone."""


@device.command("retire")
@click.argument("serial")
@click.option("--reason", required=True, help=REASON_HELP)
@acting_user_option
def retire(serial: str, reason: str, acting_as: str | None) -> None:
    """Retire the phone SERIAL for good: its approval ends, and it is never provisioned again."""
    from server.extensions import db
    from server.services import phone_actions, unit_of_work

    with command_app():
        with unit_of_work(db.session) as session:
            actor = command_actor(session, acting_as)
            phone_actions.clean_reason(reason)  # bad input before looking anything up
            phone = _registered_phone(session, serial)
            phone_actions.retire(session, phone, actor, reason=reason)
        click.echo(printable(f"Retired {phone.serial}."))


@device.command("reinstate")
@click.argument("serial")
@click.option("--reason", required=True, help=REASON_HELP)
@acting_user_option
def reinstate(serial: str, reason: str, acting_as: str | None) -> None:
    """Give the suspended phone SERIAL its approval back (refused while a blocking rule fails)."""
    from server.extensions import db
    from server.services import phone_actions, unit_of_work

    with command_app():
        with unit_of_work(db.session) as session:
            actor = command_actor(session, acting_as)
            phone_actions.clean_reason(reason)
            phone = _registered_phone(session, serial)
            phone_actions.reinstate(session, phone, actor, reason=reason)
        click.echo(printable(f"Reinstated {phone.serial}: it is {phone.state} again. "
                             "Run `phonegate provision` to install the app."))


@device.command("report-lost")
@click.argument("serial")
@click.option("--reason", required=True, help="What happened (the incident's description; no conversation content).")
@acting_user_option
def report_lost(serial: str, reason: str, acting_as: str | None) -> None:
    """Report the phone SERIAL lost or stolen: an incident is recorded and the phone suspended at once."""
    from server.extensions import db
    from server.services import phone_actions, unit_of_work
    from server.settings import current_settings

    with command_app():
        with unit_of_work(db.session) as session:
            actor = command_actor(session, acting_as)
            phone_actions.clean_reason(reason)
            phone = _registered_phone(session, serial)
            incident = phone_actions.report_lost(session, phone, actor, current_settings(), reason=reason)
        suspended = " Its approval is suspended." if incident.phone_suspended else ""
        click.echo(printable(f"Reported {phone.serial} lost or stolen: incident {incident.reference}.{suspended}"))


@device.command("mark-lab")
@click.argument("serial")
@click.option("--reason", required=True, help="Why this phone is (or is no longer) a lab or dock phone; audited.")
@click.option("--unmark", is_flag=True, help="Make it a work phone again: no_network_adb applies to it again.")
@acting_user_option
def mark_lab(serial: str, reason: str, unmark: bool, acting_as: str | None) -> None:
    """Register phone SERIAL as a lab or dock phone (ADB over the network allowed), or with --unmark undo that."""
    from server.extensions import db
    from server.services import devices, unit_of_work

    serial = serial.strip()
    with command_app():
        with unit_of_work(db.session) as session:
            actor = command_actor(session, acting_as)
            phone = _registered_phone(session, serial)
            changed = devices.set_lab_phone(session, phone, not unmark, actor, reason=reason)

    what = "a work phone again (no_network_adb applies)" if unmark else "a lab or dock phone (no_network_adb does not apply)"
    click.echo(printable(f"{serial} is {what}." if changed else f"{serial} already was {what.split(' (')[0]}; nothing was changed."))
