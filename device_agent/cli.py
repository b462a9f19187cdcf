"""Commands that talk to phones: `phonegate simulate` (and, from other parts, `inspect` and `sweep`).

A plain click module with one function per command; phonegate/cli.py imports it only when one of them runs.
Heavy imports stay inside the commands so `phonegate inspect` does not load the simulator and vice versa.
"""

from __future__ import annotations

import asyncio
import ipaddress
import signal
from collections import Counter
from pathlib import Path

import click

from phonegate.core.errors import BadInput


@click.command()
@click.option("--devices", "-n", "device_count", type=click.IntRange(1, 2000), default=1, show_default=True, help="How many phones to run.")
@click.option("--port", "first_port", type=click.IntRange(0, 65535), default=5555, show_default=True,
              help="Port of the first phone; the others take the next ports. 0 picks free ports.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--spread-hosts", is_flag=True,
              help="Give each phone its own address (127.0.0.1, 127.0.0.2, ...) on the same port, instead of consecutive ports.")
@click.option("--profile", "profiles", multiple=True, metavar="NAME|FILE",
              help="Phone profile (shipped name or YAML file); repeat to mix, phones cycle through them.")
@click.option("--authorized-keys", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path),
              help="adb_keys-format file of keys the phones accept (re-read on change: adding a waiting key's line "
                   "is how you tap Allow). Default: this computer's PhoneGate and adb keys.")
@click.option("--accept-on-prompt", is_flag=True,
              help="Demo mode: tap Allow (and 'Always allow') automatically for any new key.")
@click.option("--latency-ms", type=click.FloatRange(0, 60_000), default=None, help="Delay before every packet a phone sends.")
def simulate(
    device_count: int,
    first_port: int,
    host: str,
    spread_hosts: bool,
    profiles: tuple[str, ...],
    authorized_keys: Path | None,
    accept_on_prompt: bool,
    latency_ms: float | None,
) -> None:
    """Run simulated phones that speak ADB over TCP; prints `SERIAL HOST:PORT` per phone, serves until Ctrl-C."""
    from device_agent.simulator.phone import VirtualPhone
    from device_agent.simulator.profiles import PROFILE_NAMES, load_profile

    names = list(profiles) or [PROFILE_NAMES[0]]
    loaded = [load_profile(name) for name in names]  # ProfileInvalid is BadInput: exit 2 with the field's name
    addresses = _addresses(host, first_port, device_count, spread_hosts)
    seen: Counter[str] = Counter()
    repeats = Counter(loaded[index % len(loaded)].serial for index in range(device_count))
    phones = []
    for index in range(device_count):
        profile = loaded[index % len(loaded)]
        seen[profile.serial] += 1
        serial = profile.serial if repeats[profile.serial] == 1 else f"{profile.serial}{seen[profile.serial]:03d}"
        phone = VirtualPhone.from_profile(profile, serial=serial)
        if latency_ms is not None:
            phone.faults.latency_ms = latency_ms
        phones.append(phone)
    keys_file = authorized_keys or _default_keys_file(warn=not accept_on_prompt)
    try:
        asyncio.run(_serve(phones, addresses, keys_file, accept_on_prompt))
    finally:
        if authorized_keys is None:
            keys_file.unlink(missing_ok=True)


def _addresses(host: str, first_port: int, count: int, spread_hosts: bool) -> list[tuple[str, int]]:
    if spread_hosts:
        try:
            first = ipaddress.ip_address(host)
        except ValueError as exc:
            raise BadInput(f"--spread-hosts needs --host to be an IP address, not {host!r}.") from exc
        if not first.is_loopback or not (first + count - 1).is_loopback:
            raise BadInput(f"--spread-hosts needs {count} loopback addresses starting at {host} (127.0.0.0/8).")
        return [(str(first + index), first_port) for index in range(count)]
    if first_port and first_port + count - 1 > 65535:
        raise BadInput(f"{count} phones starting at port {first_port} would need ports above 65535; choose a lower --port.")
    return [(host, first_port + index if first_port else 0) for index in range(count)]


def _default_keys_file(*, warn: bool) -> Path:
    """A temporary adb_keys file with this computer's PhoneGate key and adb key, whichever exist."""
    import tempfile

    from device_agent.adb.keys import default_key_path

    lines = []
    for private in (default_key_path(), Path("~/.android/adbkey").expanduser()):
        public = Path(str(private) + ".pub")
        if public.is_file():
            lines.append(public.read_text(errors="replace").strip())
    handle = tempfile.NamedTemporaryFile("w", prefix="phonegate-adb_keys-", delete=False)
    with handle:
        handle.write("".join(line + "\n" for line in dict.fromkeys(lines) if line))
    if not lines and warn:
        click.echo("No ADB key on this computer yet: phones will show 'Allow USB debugging?' (use --accept-on-prompt for demos).", err=True)
    return Path(handle.name)


async def _serve(phones: list, addresses: list[tuple[str, int]], keys_file: Path, accept_on_prompt: bool) -> None:
    from device_agent.simulator.server import PhoneServer

    server = PhoneServer(authorized_keys=keys_file, accept_on_prompt=accept_on_prompt)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    try:
        for phone, (host, port) in zip(phones, addresses):
            try:
                simulated = await server.add_phone(phone, host=host, port=port)
            except OSError as exc:
                raise BadInput(f"Cannot listen on {host}:{port} ({exc.strerror or exc}); choose another --port or --host.") from exc
            click.echo(f"{simulated.serial} {simulated.endpoint}")
            click.get_text_stream("stdout").flush()
        await stop.wait()
    finally:
        await server.close()


@click.command()
@click.option("--tcp", "endpoint", metavar="HOST:PORT", help="Phone reachable over TCP (adb tcpip / simulator).")
@click.option("--usb", "use_usb", is_flag=True, help="Phone on a USB cable.")
@click.option("--serial", help="With --usb: which phone, when several are plugged in.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a summary.")
@click.option("--catalogue", "catalogue", multiple=True, metavar="PKG",
              help="Package to read in detail (repeat). Default: com.whatsapp and com.whatsapp.w4b.")
@click.option("--signer-apk", "signer_apks", multiple=True, metavar="APK",
              type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path),
              help="An approved APK (repeat): apps signed by its certificate get their signer SHA-256 filled in.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(1, 600), default=30, show_default=True,
              help="Seconds allowed for collecting facts once connected.")
@click.option("--auth-timeout", "auth_timeout_s", type=click.FloatRange(0.1, 600), default=10, show_default=True,
              help="Seconds to wait for 'Allow USB debugging?' to be accepted.")
def inspect(endpoint: str | None, use_usb: bool, serial: str | None, as_json: bool, catalogue: tuple[str, ...],
            signer_apks: tuple[Path, ...], timeout_s: float, auth_timeout_s: float) -> None:
    """Read a phone's facts over ADB and print them; changes nothing on the phone."""
    import json

    from device_agent.collect import DEFAULT_CATALOGUE, collect_facts, collection_script
    from device_agent.inspect_report import render_summary

    if bool(endpoint) == use_usb:
        raise BadInput("Say which phone: either --tcp HOST:PORT or --usb.")
    if serial and not use_usb:
        raise BadInput("--serial goes with --usb.")
    packages = list(catalogue) or list(DEFAULT_CATALOGUE)
    collection_script(packages)  # refuses bad package names before connecting
    certificates = []
    if signer_apks:
        from phonegate.core.apk import inspect_apk

        for apk in signer_apks:
            certificates.extend(inspect_apk(apk).certificates)

    async def run():
        from device_agent.adb import AdbKey, connect_tcp, connect_usb

        key = AdbKey.load_or_create()
        session = await (connect_usb(key, serial, auth_timeout_s=auth_timeout_s) if use_usb
                         else connect_tcp(endpoint, key, auth_timeout_s=auth_timeout_s))
        try:
            return await collect_facts(session, packages, timeout_s=timeout_s, known_certificates=certificates)
        finally:
            await session.close()

    facts = asyncio.run(run())
    if as_json:
        click.echo(json.dumps(facts.to_json(), indent=2, sort_keys=True))
    else:
        click.echo(render_summary(facts, packages))


@click.command()
@click.option("--tcp", "endpoints", multiple=True, metavar="HOST:PORT",
              help="Also check the phone at this endpoint (repeat); the server's enrolled phones are always included.")
@click.option("--concurrency", type=click.IntRange(1, 2000), default=20, show_default=True, help="Phones checked at once.")
@click.option("--timeout-per-phone", "timeout_s", type=click.FloatRange(0.1, 3600), default=60, show_default=True,
              help="Seconds one phone may take (connect, read facts, check); past it the phone is an error.")
@click.option("--site", help="Only the server's phones at this site.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the summary table.")
def sweep(endpoints: tuple[str, ...], concurrency: int, timeout_s: float, site: str | None, as_json: bool) -> None:
    """Run one compliance sweep now: check every enrolled phone (and --tcp phones), send the results.

    Exit 5 when a phone is non-compliant (the server's verdict, with grace periods, when it was reached).
    Without PHONEGATE_TOKEN or a reachable server, results wait in the instance folder's outbox.
    """
    import logging
    import sys

    from device_agent.adb import AdbKey
    from device_agent.adb.connection import parse_tcp_endpoint
    from device_agent.settings import AgentSettings
    from device_agent.sweep import SweepOptions, default_outbox, run_sweep
    from device_agent.sweep_api import ComplianceApi, ServerUnreachable
    from device_agent.sweep_render import print_json, print_summary, progress_for
    from phonegate.core.errors import DeviceUnreachable, NonCompliant

    tcp = [f"{host}:{port}" for host, port in (parse_tcp_endpoint(e) for e in endpoints)]  # bad ones: exit 2
    api = ComplianceApi.from_environment() if AgentSettings.from_environ().token else None
    if api is None:
        logging.getLogger("phonegate").warning("PHONEGATE_TOKEN is not set: results stay in the outbox")
        if not tcp:
            raise BadInput("Nothing to sweep: set PHONEGATE_TOKEN to sweep the server's phones, or give --tcp HOST:PORT.")
    options = SweepOptions(key=AdbKey.load_or_create(), concurrency=concurrency, timeout_per_phone_s=timeout_s, site=site)
    progress = progress_for(sys.stderr)
    try:
        outcome = run_sweep(
            api, default_outbox(), options, tcp,
            on_plan=progress.start if progress else (lambda plan: None),
            on_phone=progress.phone if progress else (lambda report: None),
        )
    finally:
        if progress:
            progress.stop()
        if api is not None:
            api.close()
    if not outcome.plan.online and not tcp:
        raise ServerUnreachable("The server could not be reached for the list of phones, and no --tcp phone was given; "
                                "check PHONEGATE_SERVER and that the server is running.")
    (print_json if as_json else print_summary)(outcome)
    if outcome.non_compliant:
        names = ", ".join(outcome.non_compliant[:5]) + (" ..." if len(outcome.non_compliant) > 5 else "")
        raise NonCompliant(f"{len(outcome.non_compliant)} phone(s) non-compliant: {names}.")
    if outcome.reports and all(report.error for report in outcome.reports):
        raise DeviceUnreachable("No phone could be read; see the table above.")
