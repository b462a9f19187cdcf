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

from device_agent.phones import phone_selection_options
from phonegate.core.errors import BadInput

INSPECT_CONCURRENCY = 16


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
@phone_selection_options("A phone reachable over TCP (wireless debugging, a simulated phone); repeat for several.")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: one object for one phone, a list of objects (one per phone read) with --usb or several phones.")
@click.option("--catalogue", "catalogue", multiple=True, metavar="PKG",
              help="Package to read in detail (repeat). Default: com.whatsapp and com.whatsapp.w4b.")
@click.option("--signer-apk", "signer_apks", multiple=True, metavar="APK",
              type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path),
              help="An approved APK (repeat): apps signed by its certificate get their signer SHA-256 filled in.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(1, 600), default=30, show_default=True,
              help="Seconds allowed for collecting facts once connected.")
@click.option("--auth-timeout", "auth_timeout_s", type=click.FloatRange(0, 600), default=10, show_default=True,
              help="Seconds to wait for 'Allow USB debugging?' to be accepted.")
def inspect(tcp: tuple[str, ...], serials: tuple[str, ...], usb: bool, as_json: bool, catalogue: tuple[str, ...],
            signer_apks: tuple[Path, ...], timeout_s: float, auth_timeout_s: float) -> None:
    """Read phones' facts over ADB and print them; changes nothing on the phones.

    A phone that cannot be read (unauthorised, offline, unplugged) gets one line on stderr, with what to do, and
    the others are still read; the exit code is then 4.
    """
    from device_agent.collect import DEFAULT_CATALOGUE, collection_script
    from device_agent.inspect_report import render_summary
    from phonegate.core.text import printable, printable_json
    from device_agent.phones import phone_options

    options = phone_options(tcp, serials, usb)
    if not options.given:
        raise BadInput("Say which phone: --tcp HOST:PORT, --serial SERIAL or --usb.")
    packages = list(catalogue) or list(DEFAULT_CATALOGUE)
    collection_script(packages)  # refuses bad package names before connecting
    certificates = []
    if signer_apks:
        from phonegate.core.apk import inspect_apk

        for apk in signer_apks:
            certificates.extend(inspect_apk(apk).certificates)

    chosen, results = asyncio.run(_inspect_all(options, packages, certificates, timeout_s, auth_timeout_s))
    read = [(endpoint, facts) for endpoint, facts, _ in results if facts is not None]
    errors = [missing.error for missing in chosen.missing] + [error for _, _, error in results if error is not None]
    if not options.several and errors:
        raise errors[0]  # one phone: its own sentence and exit code, as always
    for error in errors:
        click.echo(f"Error: {printable(str(error))}", err=True)
    if as_json:
        objects = [dict(facts.to_json(), endpoint=endpoint) for endpoint, facts in read]
        click.echo(printable_json(objects if options.several else objects[0], sort_keys=True))
    else:
        for endpoint, facts in read:
            if options.several:
                click.echo(f"== {facts.serial or 'unknown serial'} ({endpoint}) ==")
            click.echo(render_summary(facts, packages))
    if errors:
        from device_agent.phones import SomePhonesFailed, worst_exit_code

        total = len(results) + len(chosen.missing)
        raise SomePhonesFailed(f"{len(errors)} of {total} phones could not be read (see the lines above).",
                               worst_exit_code([error.exit_code for error in errors]))


async def _inspect_all(options, packages, certificates, timeout_s: float, auth_timeout_s: float):  # type: ignore[no-untyped-def]
    from device_agent.adb import AdbKey, connect
    from device_agent.collect import collect_facts
    from device_agent.phones import choose_phones
    from phonegate.core.errors import PhoneGateError

    key = AdbKey.load_or_create()
    chosen = await choose_phones(options)
    limit = asyncio.Semaphore(INSPECT_CONCURRENCY)

    async def one(endpoint: str):  # type: ignore[no-untyped-def]
        async with limit:
            try:
                session = await connect(endpoint, key, auth_timeout_s=auth_timeout_s)
                try:
                    return endpoint, await collect_facts(session, packages, timeout_s=timeout_s, known_certificates=certificates), None
                finally:
                    await session.close()
            except PhoneGateError as exc:
                return endpoint, None, exc

    return chosen, await asyncio.gather(*(one(endpoint) for endpoint in chosen.endpoints))


@click.command()
@phone_selection_options("Also check the phone at this endpoint (repeat); the server's enrolled phones are always included.")
@click.option("--concurrency", type=click.IntRange(1, 2000), default=20, show_default=True, help="Phones checked at once.")
@click.option("--timeout-per-phone", "timeout_s", type=click.FloatRange(0.1, 3600), default=60, show_default=True,
              help="Seconds one phone may take (connect, read facts, check); past it the phone is an error.")
@click.option("--site", help="Only the server's phones at this site.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the summary table.")
def sweep(tcp: tuple[str, ...], serials: tuple[str, ...], usb: bool, concurrency: int, timeout_s: float,
          site: str | None, as_json: bool) -> None:
    """Run one compliance sweep now: check every enrolled phone (and the phones named), send the results.

    Exit 5 when a phone is non-compliant (the server's verdict, with grace periods, when it was reached); else
    exit 4 when a phone named with --tcp/--serial/--usb could not be read (each has its line in the table); else
    exit 6 when the results were not delivered and wait in the instance folder's outbox (no PHONEGATE_TOKEN, or
    the server could not be reached): the next sweep delivers them.
    """
    import logging
    import sys

    from device_agent.adb import AdbKey
    from device_agent.phones import choose_phones, phone_options
    from device_agent.settings import AgentSettings
    from device_agent.sweep import SweepOptions, default_outbox, run_sweep
    from device_agent.sweep_api import ComplianceApi, ServerUnreachable
    from device_agent.sweep_render import print_json, print_summary, progress_for
    from phonegate.core.errors import DeviceUnreachable, NonCompliant, ResultsWaiting
    from phonegate.core.text import printable

    phones = phone_options(tcp, serials, usb)  # bad ones: exit 2
    api = ComplianceApi.from_environment() if AgentSettings.from_environ().token else None
    if api is None:
        logging.getLogger("phonegate").warning("PHONEGATE_TOKEN is not set: results stay in the outbox")
        if not phones.given:
            raise BadInput("Nothing to sweep: set PHONEGATE_TOKEN to sweep the server's phones, or name phones with "
                           "--tcp HOST:PORT, --serial SERIAL or --usb.")
    chosen = asyncio.run(choose_phones(phones, identify=True))
    for missing in chosen.missing:
        click.echo(f"Error: {printable(str(missing.error))}", err=True)
    named = chosen.endpoints
    options = SweepOptions(key=AdbKey.load_or_create(), concurrency=concurrency, timeout_per_phone_s=timeout_s, site=site)
    progress = progress_for(sys.stderr)
    try:
        outcome = run_sweep(
            api, default_outbox(), options, named, serial_numbers=chosen.serial_numbers,
            on_plan=progress.start if progress else (lambda plan: None),
            on_phone=progress.phone if progress else (lambda report: None),
        )
    finally:
        if progress:
            progress.stop()
        if api is not None:
            api.close()
    if not outcome.plan.online and not named:
        if chosen.missing:
            raise DeviceUnreachable("None of the phones named could be found; see the lines above.")
        raise ServerUnreachable("The server could not be reached for the list of phones, and no phone was named; "
                                "check PHONEGATE_SERVER and that the server is running.")
    (print_json if as_json else print_summary)(outcome)
    if outcome.non_compliant:
        names = ", ".join(outcome.non_compliant[:5]) + (" ..." if len(outcome.non_compliant) > 5 else "")
        raise NonCompliant(f"{len(outcome.non_compliant)} phone(s) non-compliant: {names}.")
    if outcome.reports and all(report.error for report in outcome.reports):
        raise DeviceUnreachable("No phone could be read; see the table above.")
    unread = [report for report in outcome.reports if report.error and report.target.endpoint in named]
    if unread or chosen.missing:
        raise DeviceUnreachable(f"{len(unread) + len(chosen.missing)} of the phones named could not be read; "
                                "see the lines above.")
    if outcome.outbox_waiting:
        raise ResultsWaiting(f"The results were not delivered: {outcome.outbox_waiting} batch(es) wait in the outbox "
                             f"({default_outbox().folder}); the next sweep delivers them once the server can be reached.")
