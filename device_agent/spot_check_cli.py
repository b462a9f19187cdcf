"""`phonegate spot-check PHONES`: record a spot check's evidence snapshot from each phone plugged in.

Which phones: `--tcp HOST:PORT` for now. The phone-selection options every phone command shares (`--serial`,
`--usb`, device_agent.phones) plug in at the two marked places: the options decorator, and `_chosen_endpoints`
with `_connect`, which turn the options into endpoints and an endpoint into a connected session.

One line per phone; the worst phone decides the exit code: 2 no open spot check for that phone (or bad input),
3 refused by the server, 4 phone unreachable or unauthorised, 1 the server unreachable.
"""

from __future__ import annotations

import asyncio

import click

from phonegate.core.errors import BadInput, PhoneGateError

# Worst first, as the phone commands pick one exit code when phones end differently.
_SEVERITY = {1: 4, 2: 3, 4: 2, 3: 1, 0: 0}


@click.command("spot-check")
@click.option("--tcp", "tcp", multiple=True, metavar="HOST:PORT",
              help="A phone reachable over TCP (wireless debugging, a simulated phone); repeat for several.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per phone instead of a line.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(1, 600), default=60, show_default=True,
              help="Seconds allowed for reading each phone once connected.")
@click.option("--auth-timeout", "auth_timeout_s", type=click.FloatRange(0.1, 600), default=10, show_default=True,
              help="Seconds to wait for 'Allow USB debugging?' to be accepted.")
def spot_check(tcp: tuple[str, ...], as_json: bool, timeout_s: float, auth_timeout_s: float) -> None:
    """Read each phone's evidence for its open spot check (facts, compliance, WhatsApp storage) and send it.

    Needs PHONEGATE_TOKEN with scope agent. No message content is read.
    """
    import json

    from device_agent.adb import AdbKey
    from device_agent.client import PhoneGateClient
    from phonegate.core.text import printable

    endpoints = _chosen_endpoints(tcp)
    codes = []
    with PhoneGateClient() as client:  # PHONEGATE_SERVER, PHONEGATE_TOKEN: BadInput (exit 2) without a token
        key = AdbKey.load_or_create()  # after the token check: a command that cannot run makes no key
        for endpoint in endpoints:
            report = asyncio.run(_one(endpoint, key, client, timeout_s, auth_timeout_s))
            codes.append(report.error.exit_code if isinstance(report.error, PhoneGateError) else (1 if report.error else 0))
            if as_json:
                click.echo(printable(json.dumps(report.to_json(), sort_keys=True)))
            else:
                click.echo(printable(_line(report)), err=report.error is not None)
    worst = max(codes, key=lambda code: _SEVERITY.get(code, 4), default=0)
    if worst:
        raise click.exceptions.Exit(worst)


def _chosen_endpoints(tcp: tuple[str, ...]) -> list[str]:
    """Plug-in point: the shared phone selection (device_agent.phones.choose_phones) replaces this."""
    from device_agent.adb.connection import parse_tcp_endpoint

    if not tcp:
        raise BadInput("Say which phone: --tcp HOST:PORT.")
    endpoints = [f"{host}:{port}" for host, port in (parse_tcp_endpoint(endpoint) for endpoint in tcp)]  # bad: exit 2
    if len(set(endpoints)) != len(endpoints):
        raise BadInput("The same --tcp phone is given twice.")
    return endpoints


async def _connect(endpoint: str, key, auth_timeout_s: float):  # type: ignore[no-untyped-def]
    """Plug-in point: device_agent.adb.connect(endpoint, key, ...) once it names adb-server and USB endpoints too."""
    from device_agent.adb import connect_tcp

    return await connect_tcp(endpoint, key, auth_timeout_s=auth_timeout_s)


async def _one(endpoint: str, key, client, timeout_s: float, auth_timeout_s: float):  # type: ignore[no-untyped-def]
    from device_agent.spot_check import SpotCheckReport, record_snapshot

    try:
        session = await _connect(endpoint, key, auth_timeout_s)
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
