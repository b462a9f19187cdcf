"""`phonegate spot-check PHONES`: record a spot check's evidence snapshot from each phone plugged in.

Which phones: `--tcp`, `--serial`, `--usb`, as on every phone command (device_agent.phones). Phones are read one
after the other (a spot check is a person at a desk with a phone or two, not a sweep). One line per phone; the
worst phone decides the exit code: 2 no open spot check for that phone (or bad input), 3 refused by the server,
4 phone unreachable or unauthorised, 1 the server unreachable.
"""

from __future__ import annotations

import asyncio

import click

from device_agent.phones import phone_selection_options
from phonegate.core.errors import BadInput, PhoneGateError


@click.command("spot-check")
@phone_selection_options("A phone reachable over TCP (wireless debugging, a simulated phone); repeat for several.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per phone instead of a line.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(1, 600), default=60, show_default=True,
              help="Seconds allowed for reading each phone once connected.")
@click.option("--auth-timeout", "auth_timeout_s", type=click.FloatRange(0.1, 600), default=10, show_default=True,
              help="Seconds to wait for 'Allow USB debugging?' to be accepted.")
def spot_check(tcp: tuple[str, ...], serials: tuple[str, ...], usb: bool, as_json: bool, timeout_s: float,
               auth_timeout_s: float) -> None:
    """Read each phone's evidence for its open spot check (facts, compliance, WhatsApp storage) and send it.

    Needs PHONEGATE_TOKEN with scope agent. No message content is read.
    """
    import json

    from device_agent.adb import AdbKey
    from device_agent.client import PhoneGateClient
    from device_agent.phones import phone_options, worst_exit_code
    from phonegate.core.text import printable

    options = phone_options(tcp, serials, usb)  # bad endpoints and serials: exit 2 before anything is touched
    if not options.given:
        raise BadInput("Say which phone: --tcp HOST:PORT, --serial SERIAL or --usb.")
    codes = []
    with PhoneGateClient() as client:  # PHONEGATE_SERVER, PHONEGATE_TOKEN: BadInput (exit 2) without a token
        key = AdbKey.load_or_create()  # after the token check: a command that cannot run makes no key
        for report in asyncio.run(_all(options, key, client, timeout_s, auth_timeout_s)):
            codes.append(report.error.exit_code if isinstance(report.error, PhoneGateError) else (1 if report.error else 0))
            if as_json:
                click.echo(printable(json.dumps(report.to_json(), sort_keys=True)))
            else:
                click.echo(printable(_line(report)), err=report.error is not None)
    worst = worst_exit_code(codes)
    if worst:
        raise click.exceptions.Exit(worst)


async def _all(options, key, client, timeout_s: float, auth_timeout_s: float):  # type: ignore[no-untyped-def]
    """Every chosen phone, one after the other, in one event loop (the adb server's client lives in it)."""
    from device_agent.phones import choose_phones
    from device_agent.spot_check import SpotCheckReport

    chosen = await choose_phones(options)
    reports = [SpotCheckReport(missing.asked, error=missing.error) for missing in chosen.missing]
    for endpoint in chosen.endpoints:
        reports.append(await _one(endpoint, key, client, timeout_s, auth_timeout_s))
    return reports


async def _one(endpoint: str, key, client, timeout_s: float, auth_timeout_s: float):  # type: ignore[no-untyped-def]
    from device_agent.adb import connect
    from device_agent.spot_check import SpotCheckReport, record_snapshot

    try:
        session = await connect(endpoint, key, auth_timeout_s=auth_timeout_s)
    except Exception as exc:  # unreachable or unauthorised: this phone only
        return SpotCheckReport(endpoint, error=exc if isinstance(exc, PhoneGateError) else _unexpected(exc))
    try:
        return await record_snapshot(session, client, endpoint, timeout_s=timeout_s)
    except PhoneGateError as exc:
        return SpotCheckReport(endpoint, error=exc)
    except (asyncio.TimeoutError, TimeoutError):
        from phonegate.core.errors import DeviceUnreachable

        return SpotCheckReport(endpoint, error=DeviceUnreachable(f"The phone did not answer within {timeout_s:g} s."))
    finally:
        await session.close()


def _unexpected(exc: Exception) -> PhoneGateError:
    error = PhoneGateError(f"Unexpected error ({type(exc).__name__}).")
    error.exit_code = 1
    return error


def _line(report) -> str:  # type: ignore[no-untyped-def]
    who = report.serial or report.endpoint
    if report.error is not None:
        return f"{who}: {report.error}"
    storage = report.storage
    failing = f"{len(report.failing)} rule(s) failing ({', '.join(report.failing)})" if report.failing else "no rule failing"
    found = (f"{len(storage.exports)} exported chat(s) and {len(storage.backups)} chat backup(s) in shared storage"
             if storage else "")
    where = f" The manager completes it at {report.url}" if report.url else ""
    return f"{who}: evidence recorded for spot check {report.spot_check_id}: {failing}; {found}.{where}"
