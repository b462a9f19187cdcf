"""`phonegate provision`: enrol phones and, once a manager has approved them, install the approved app.

Several phones run at once; each gets its own line of progress. The exit code is the worst phone's outcome
(INTERFACE.md): 0 all done, 3 refused (e.g. not approved yet: the manager's page address is printed),
4 a phone unreachable or not authorised, 2 bad input, 1 unexpected. Running it again is always safe.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from device_agent.phones import phone_selection_options
from phonegate.core.errors import BadInput, PhoneGateError


class ProvisioningFailed(PhoneGateError):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@click.command()
@phone_selection_options("A phone reachable over TCP (wireless debugging, adb tcpip); repeat for several.")
@click.option("--staff", "staff_email", metavar="EMAIL", help="The staff member who will hold the phone.")
@click.option("--broadcast", "broadcast_service", metavar="SERVICE", help="Make it this service's Broadcast phone.")
@click.option("--apk", "apk_path", type=click.Path(path_type=Path, dir_okay=False), help="Install this APK file (must be the catalogue's, byte for byte) instead of downloading it.")
@click.option("--wait", "wait_s", type=click.FloatRange(0, 24 * 3600), default=0, show_default=True, metavar="SECONDS",
              help="Wait this long for the manager's approval instead of stopping at once.")
@click.option("--ask-again", is_flag=True, help="After a manager rejected the request, open a new one.")
def provision(tcp: tuple[str, ...], serials: tuple[str, ...], usb: bool, staff_email: str | None,
              broadcast_service: str | None, apk_path: Path | None, wait_s: float, ask_again: bool) -> int:
    """Enrol phones and, once approved, install the approved app (server: PHONEGATE_SERVER, token: PHONEGATE_TOKEN).

    A phone that cannot be reached (unauthorised, offline, unplugged) gets its own line, with what to do; the
    others go on.
    """
    from device_agent.phones import phone_options
    from provisioning.flow import Options, Target

    phones = phone_options(tcp, serials, usb)
    if not phones.given:
        raise BadInput("Give the phones with --tcp HOST:PORT, --serial SERIAL (both repeatable) or --usb.")
    if apk_path is not None and not apk_path.is_file():
        raise BadInput(f"No APK file at {apk_path}.")
    target = Target(staff_email=staff_email.strip() if staff_email else None,
                    broadcast_service=broadcast_service.strip() if broadcast_service else None)
    options = Options(target=target, apk_path=apk_path, wait_s=wait_s, ask_again=ask_again)
    return run(phones, options)


def run(phones, options, *, stream=None) -> int:
    from device_agent.adb import AdbKey
    from device_agent.adb.keys import default_key_path
    from device_agent.client import PhoneGateClient
    from provisioning.progress import renderer_for

    PhoneGateClient().close()  # fail fast (exit 2) on a missing token or a bad PHONEGATE_SERVER, before any phone
    key = AdbKey.load_or_create(default_key_path())
    renderer = renderer_for(stream)
    try:
        outcomes = asyncio.run(_run_all(phones, options, PhoneGateClient, key, renderer))
    finally:
        renderer.close()
    from device_agent.phones import worst_exit_code

    worst = worst_exit_code([o.exit_code for o in outcomes])
    if worst == 0:
        return 0
    failed = [o for o in outcomes if o.exit_code != 0]
    if len(outcomes) == 1:
        raise ProvisioningFailed(failed[0].message, worst)
    raise ProvisioningFailed(f"{len(failed)} of {len(outcomes)} phones were not provisioned (see the lines above); "
                             "fix what they say and run the same command again.", worst)


async def _run_all(phones, options, make_client, key, renderer):
    from device_agent.phones import choose_phones
    from provisioning.flow import Event, Outcome, provision_phone

    chosen = await choose_phones(phones)
    missing = []
    for asked in chosen.missing:  # named, but no phone answers to it: its own line, and the others go on
        outcome = Outcome(asked.error.exit_code, str(asked.error))
        renderer.handle(asked.asked, Event(asked.asked, "done", outcome.message, 1.0, outcome=outcome, warning=True))
        missing.append(outcome)
    endpoints = chosen.endpoints

    async def one(endpoint: str):
        outcome = None
        async for event in provision_phone(endpoint, options, make_client, key):
            renderer.handle(endpoint, event)
            outcome = event.outcome or outcome
        return outcome

    return missing + list(await asyncio.gather(*(one(endpoint) for endpoint in endpoints)))
