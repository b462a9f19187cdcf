"""`phonegate provision`: enrol phones and, once a manager has approved them, install the approved app.

Several phones run at once; each gets its own line of progress. The exit code is the worst phone's outcome
(INTERFACE.md): 0 all done, 3 refused (e.g. not approved yet: the manager's page address is printed),
4 a phone unreachable or not authorised, 2 bad input, 1 unexpected. Running it again is always safe.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from phonegate.core.errors import BadInput, PhoneGateError

# Worst first: a bug hides everything else; bad input means nothing ran as intended; then phones we could not
# reach; then refusals. Used only to pick the exit code when phones end differently.
_SEVERITY = {1: 4, 2: 3, 4: 2, 3: 1, 0: 0}


class ProvisioningFailed(PhoneGateError):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@click.command()
@click.option("--tcp", "endpoints", multiple=True, metavar="HOST:PORT", help="A phone reachable over TCP (adb tcpip); repeat for several.")
@click.option("--usb", is_flag=True, help="The phone on USB.")
@click.option("--staff", "staff_email", metavar="EMAIL", help="The staff member who will hold the phone.")
@click.option("--broadcast", "broadcast_service", metavar="SERVICE", help="Make it this service's Broadcast phone.")
@click.option("--apk", "apk_path", type=click.Path(path_type=Path, dir_okay=False), help="Install this APK file (must be the catalogue's, byte for byte) instead of downloading it.")
@click.option("--wait", "wait_s", type=click.FloatRange(0, 24 * 3600), default=0, show_default=True, metavar="SECONDS",
              help="Wait this long for the manager's approval instead of stopping at once.")
@click.option("--ask-again", is_flag=True, help="After a manager rejected the request, open a new one.")
def provision(endpoints: tuple[str, ...], usb: bool, staff_email: str | None, broadcast_service: str | None,
              apk_path: Path | None, wait_s: float, ask_again: bool) -> int:
    """Enrol phones and, once approved, install the approved app (server: PHONEGATE_SERVER, token: PHONEGATE_TOKEN)."""
    from provisioning.flow import Options, Target

    if bool(endpoints) == usb:
        raise BadInput("Give the phones with --tcp HOST:PORT (repeatable) or --usb, not both.")
    if len(set(endpoints)) != len(endpoints):
        raise BadInput("The same --tcp phone is given twice.")
    if apk_path is not None and not apk_path.is_file():
        raise BadInput(f"No APK file at {apk_path}.")
    target = Target(staff_email=staff_email.strip() if staff_email else None,
                    broadcast_service=broadcast_service.strip() if broadcast_service else None)
    options = Options(target=target, apk_path=apk_path, wait_s=wait_s, ask_again=ask_again)
    return run(list(endpoints) or ["usb"], options)


def run(endpoints: list[str], options, *, stream=None) -> int:
    from device_agent.adb import AdbKey
    from device_agent.adb.keys import default_key_path
    from device_agent.client import PhoneGateClient
    from provisioning.progress import renderer_for

    PhoneGateClient().close()  # fail fast (exit 2) on a missing token or a bad PHONEGATE_SERVER, before any phone
    key = AdbKey.load_or_create(default_key_path())
    renderer = renderer_for(stream)
    try:
        outcomes = asyncio.run(_run_all(endpoints, options, PhoneGateClient, key, renderer))
    finally:
        renderer.close()
    worst = max((o.exit_code for o in outcomes), key=lambda code: _SEVERITY.get(code, 4))
    if worst == 0:
        return 0
    failed = [o for o in outcomes if o.exit_code != 0]
    if len(outcomes) == 1:
        raise ProvisioningFailed(failed[0].message, worst)
    raise ProvisioningFailed(f"{len(failed)} of {len(outcomes)} phones were not provisioned (see the lines above); "
                             "fix what they say and run the same command again.", worst)


async def _run_all(endpoints, options, make_client, key, renderer):
    from provisioning.flow import provision_phone

    async def one(endpoint: str):
        outcome = None
        async for event in provision_phone(endpoint, options, make_client, key):
            renderer.handle(endpoint, event)
            outcome = event.outcome or outcome
        return outcome

    return await asyncio.gather(*(one(endpoint) for endpoint in endpoints))
