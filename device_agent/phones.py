"""Which phones a command talks to: `--tcp`, `--serial` and `--usb`, the same on inspect, sweep and provision.

- `--tcp HOST:PORT` (repeatable): ADB straight to the phone's TCP port (wireless debugging, a simulated phone).
- `--serial SERIAL` (repeatable): a phone the adb server knows, by the serial `adb devices` shows or by the phone's
  own serial number (ro.serialno; a phone attached with `adb connect` shows HOST:PORT in `adb devices`).
- `--usb`: every phone the adb server reports, in whatever state: an unauthorised or offline one is kept, so
  that the command reports it on its own line (exit 4, with the key fingerprint) while the others go on.
When no adb server can be had (none answers and `adb` is not on PATH, or it does not start), `--usb` falls back to
the one phone libusb finds and `--serial` to that serial over libusb: the way PhoneGate worked without a server.

`choose_phones` turns the options into endpoints (`HOST:PORT`, `adb:SERIAL`, `usb[:SERIAL]`) that
device_agent.adb.connect understands; a `--serial` no phone answers to becomes a `Missing` entry with its sentence.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click

from phonegate.core.errors import BadInput, DeviceUnreachable, PhoneGateError

if TYPE_CHECKING:  # the ADB layer loads adb-shell: imported inside the functions, so `--help` stays light
    from device_agent.adb import host_protocol as hp
    from device_agent.adb.adb_server import AdbServer
    from device_agent.adb.errors import AdbServerUnavailable

log = logging.getLogger(__name__)
SERIALNO_TIMEOUT_S = 10.0
SERIALNO_CONCURRENCY = 16


@dataclass(frozen=True)
class PhoneOptions:
    """What the person typed."""

    tcp: tuple[str, ...] = ()
    serials: tuple[str, ...] = ()
    usb: bool = False

    @property
    def given(self) -> bool:
        return bool(self.tcp or self.serials or self.usb)

    @property
    def several(self) -> bool:
        """Whether the answer can be more than one phone (then `inspect --json` prints a list)."""
        return self.usb or len(self.tcp) + len(self.serials) > 1


@dataclass(frozen=True)
class Missing:
    """A phone that was asked for but cannot be named as an endpoint; `error` is what to tell the person."""

    asked: str
    error: PhoneGateError


@dataclass
class ChosenPhones:
    endpoints: list[str] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    via_libusb: bool = False  # no adb server could be had: --usb / --serial fell back to libusb
    serial_numbers: dict[str, str] = field(default_factory=dict)  # adb:SERIAL endpoint -> the phone's ro.serialno


def phone_options(tcp: Sequence[str], serials: Sequence[str], usb: bool) -> PhoneOptions:
    """Checked options: bad endpoints and serials are BadInput (exit 2), repeats are refused."""
    from device_agent.adb import host_protocol as hp
    from device_agent.adb.connection import parse_tcp_endpoint

    endpoints = tuple(f"{host}:{port}" for host, port in (parse_tcp_endpoint(endpoint) for endpoint in tcp))
    if len(set(endpoints)) != len(endpoints):
        raise BadInput("The same --tcp phone is given twice.")
    checked = []
    for serial in serials:
        try:
            checked.append(hp.check_serial(serial))
        except hp.HostProtocolError as exc:
            raise BadInput(f"--serial: {exc}.") from None
    if len(set(checked)) != len(checked):
        raise BadInput("The same --serial phone is given twice.")
    if usb and checked:
        raise BadInput("--usb already means every phone the adb server reports; leave out --serial, or leave out --usb.")
    return PhoneOptions(endpoints, tuple(checked), usb)


def phone_selection_options(tcp_help: str):  # type: ignore[no-untyped-def]
    """`--tcp`, `--serial`, `--usb` with one wording for every command (click's `tcp`, `serials`, `usb`)."""
    decorators = [
        click.option("--tcp", "tcp", multiple=True, metavar="HOST:PORT", help=tcp_help),
        click.option("--serial", "serials", multiple=True, metavar="SERIAL",
                     help="A phone the local adb server knows (USB, wireless debugging, `adb connect`), by the serial "
                          "`adb devices` shows or the phone's own serial number (ro.serialno); repeat for several."),
        click.option("--usb", "usb", is_flag=True,
                     help="Every phone the local adb server reports (found as adb finds it: ADB_SERVER_SOCKET, "
                          "ANDROID_ADB_SERVER_PORT, else 127.0.0.1:5037; started if it is not running). Without any "
                          "adb server: the one phone on USB, through libusb."),
    ]

    def apply(function):  # type: ignore[no-untyped-def]
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


# Worst first, to pick one exit code when phones end differently: a bug hides everything else; bad input means
# nothing ran as intended; then the server out of reach (every phone waits for it); then phone problems; then
# refusals; then success.
_SEVERITY = {1: 5, 2: 4, 7: 3, 4: 2, 3: 1, 0: 0}


def worst_exit_code(codes: Sequence[int]) -> int:
    return max(codes, key=lambda code: _SEVERITY.get(code, 5), default=0)


class SomePhonesFailed(PhoneGateError):
    """Several phones, not all done: each said why on its own line; the exit code is the worst one's."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


async def choose_phones(options: PhoneOptions, server: AdbServer | None = None, *, identify: bool = False) -> ChosenPhones:
    """The endpoints for `options`, in the order given (`--tcp` first). Asks the adb server only for
    `--serial`/`--usb`. With `identify`, also reads each chosen online phone's ro.serialno (the sweep matches
    phones to the server's inventory by it). Raises only when nothing at all can be reached (no server, no libusb)."""
    from device_agent.adb import host_protocol as hp
    from device_agent.adb.adb_server import ServerSaidFail, default_server
    from device_agent.adb.errors import AdbServerUnavailable

    chosen = ChosenPhones(endpoints=list(options.tcp))
    if not (options.serials or options.usb):
        return chosen
    server = server or default_server()
    try:
        attached = await server.devices()
    except AdbServerUnavailable as exc:
        return _libusb_fallback(options, chosen, exc)
    except (ServerSaidFail, hp.HostProtocolError, ConnectionError, OSError) as exc:
        raise DeviceUnreachable(f"The adb server at {server.address} did not list its phones ({exc}).") from None
    if options.usb:
        if not attached:
            chosen.missing.append(Missing("--usb", DeviceUnreachable(
                f"The adb server at {server.address} reports no phones: plug one in, unlock it, turn on USB debugging, "
                "and check `adb devices`.")))
        chosen.endpoints += [hp.ENDPOINT_PREFIX + phone.serial for phone in attached]
        if identify:
            chosen.serial_numbers = _by_endpoint(await _serial_numbers(server, [phone for phone in attached if phone.online]))
        return chosen
    by_adb_serial = {phone.serial: phone for phone in attached}
    unmatched = [serial for serial in options.serials if serial not in by_adb_serial]
    by_serialno = await _serial_numbers(server, [phone for phone in attached if phone.online and phone.serial not in options.serials]) \
        if unmatched else {}
    for serial in options.serials:
        if serial in by_adb_serial:
            chosen.endpoints.append(hp.ENDPOINT_PREFIX + serial)
        elif serial in by_serialno:
            chosen.endpoints.append(hp.ENDPOINT_PREFIX + by_serialno[serial])
        else:
            chosen.missing.append(Missing(serial, _not_found(server, serial, attached)))
    if identify:
        named = [by_adb_serial[serial] for serial in options.serials if serial in by_adb_serial and by_adb_serial[serial].online]
        chosen.serial_numbers = _by_endpoint({**by_serialno, **await _serial_numbers(server, named)})
    return chosen


def _by_endpoint(serial_numbers: dict[str, str]) -> dict[str, str]:
    from device_agent.adb import host_protocol as hp

    return {hp.ENDPOINT_PREFIX + adb_serial: serialno for serialno, adb_serial in serial_numbers.items()}


def _not_found(server: AdbServer, serial: str, attached: list[hp.AttachedPhone]) -> DeviceUnreachable:
    from device_agent.adb import host_protocol as hp

    listed = ", ".join(hp.printable_message(phone.serial.encode(), 60) for phone in attached[:8]) or "none"
    waiting = [phone for phone in attached if not phone.online]
    hint = (" A phone that is not authorised or offline can be named only by the serial `adb devices` shows."
            if waiting else "")
    return DeviceUnreachable(f"No phone with serial {serial} is attached to the adb server at {server.address} "
                             f"(it lists: {listed}).{hint}")


async def _serial_numbers(server: AdbServer, phones: list[hp.AttachedPhone]) -> dict[str, str]:
    """ro.serialno -> the adb serial, read from each online phone (in parallel; a phone that does not answer is
    left out: it is then reported as not found, by the serial asked for)."""
    from device_agent.adb import connect_adb_server

    limit = asyncio.Semaphore(SERIALNO_CONCURRENCY)

    async def one(phone: hp.AttachedPhone) -> tuple[str, str] | None:
        async with limit:
            try:
                session = await connect_adb_server(phone.serial, None, server=server, auth_timeout_s=0,  # type: ignore[arg-type]
                                                   read_timeout_s=SERIALNO_TIMEOUT_S)
            except PhoneGateError as exc:
                log.debug("reading ro.serialno of %s failed: %s", phone.serial, exc)
                return None
            try:
                text = (await session.shell("getprop ro.serialno", timeout_s=SERIALNO_TIMEOUT_S)).strip()
            except PhoneGateError as exc:
                log.debug("reading ro.serialno of %s failed: %s", phone.serial, exc)
                return None
            finally:
                await session.close()
            return (text, phone.serial) if text and text.isprintable() else None

    pairs = await asyncio.gather(*(one(phone) for phone in phones))
    found: dict[str, str] = {}
    for pair in pairs:
        if pair is not None:
            found.setdefault(*pair)
    return found


def _libusb_fallback(options: PhoneOptions, chosen: ChosenPhones, unavailable: AdbServerUnavailable) -> ChosenPhones:
    from device_agent.adb.usb import usb_available

    if not usb_available():
        raise DeviceUnreachable(f"{unavailable} USB without an adb server needs the `usb` extra "
                                "(`pip install 'phonegate[usb]'`).") from None
    log.warning("%s Falling back to libusb.", unavailable)
    chosen.via_libusb = True
    if options.usb:
        chosen.endpoints.append("usb")
    chosen.endpoints += [f"usb:{serial}" for serial in options.serials]
    return chosen
