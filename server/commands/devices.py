"""`phonegate device retire|reinstate|report-lost SERIAL --reason TEXT`: the phone actions of its page.

The rules (who may, which states, what ends with a retirement) are server/services/phone_actions.py; a refusal is
exit 3 (audited), bad input exit 2 (nothing changed).
"""

from __future__ import annotations

import click

from phonegate.core.text import printable
from server.commands import command_app

REASON_HELP = "Why (kept with the action, shown on the phone's page)."


@click.group()
def device() -> None:
    """Act on one phone: retire it, reinstate it, report it lost or stolen."""


@device.command("retire")
@click.argument("serial")
@click.option("--reason", required=True, help=REASON_HELP)
def retire(serial: str, reason: str) -> None:
    """Retire the phone SERIAL for good: its approval ends, and it is never provisioned again."""
    from server.extensions import db
    from server.services import phone_actions, unit_of_work
    from server.services.actor import Actor

    with command_app():
        with unit_of_work(db.session) as session:
            phone_actions.clean_reason(reason)  # bad input before looking anything up
            phone = phone_actions.phone_by_serial(session, serial)
            phone_actions.retire(session, phone, Actor.cli(), reason=reason)
        click.echo(printable(f"Retired {phone.serial}."))


@device.command("reinstate")
@click.argument("serial")
@click.option("--reason", required=True, help=REASON_HELP)
def reinstate(serial: str, reason: str) -> None:
    """Give the suspended phone SERIAL its approval back (refused while a blocking rule fails)."""
    from server.extensions import db
    from server.services import phone_actions, unit_of_work
    from server.services.actor import Actor

    with command_app():
        with unit_of_work(db.session) as session:
            phone_actions.clean_reason(reason)
            phone = phone_actions.phone_by_serial(session, serial)
            phone_actions.reinstate(session, phone, Actor.cli(), reason=reason)
        click.echo(printable(f"Reinstated {phone.serial}: it is {phone.state} again. "
                             "Run `phonegate provision` to install the app."))


@device.command("report-lost")
@click.argument("serial")
@click.option("--reason", required=True, help="What happened (the incident's description; no conversation content).")
def report_lost(serial: str, reason: str) -> None:
    """Report the phone SERIAL lost or stolen: an incident is recorded and the phone suspended at once."""
    from server.extensions import db
    from server.services import phone_actions, unit_of_work
    from server.services.actor import Actor
    from server.settings import current_settings

    with command_app():
        with unit_of_work(db.session) as session:
            phone_actions.clean_reason(reason)
            phone = phone_actions.phone_by_serial(session, serial)
            incident = phone_actions.report_lost(session, phone, Actor.cli(), current_settings(), reason=reason)
        suspended = " Its approval is suspended." if incident.phone_suspended else ""
        click.echo(printable(f"Reported {phone.serial} lost or stolen: incident {incident.reference}.{suspended}"))
