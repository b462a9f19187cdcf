"""One connected phone (`PhoneSession`) and the ways to get one: TCP, the adb server, USB, or waiting for the
person to tap Allow.

Endpoints name the way: `HOST:PORT` (ADB straight to the phone's TCP port), `adb:SERIAL` (a phone the adb server
holds: USB, wireless debugging, `adb connect`), `usb` / `usb:SERIAL` (libusb, when no adb server can be had).
Every step has its own limit: `connect_timeout_s` (TCP connect, or reaching the adb server), `auth_timeout_s`
(waiting for Allow after the phone has been shown the key), `read_timeout_s` (any single answer), and `timeout_s`
on whole operations. Backend exceptions never leave this module: callers see device_agent.adb.errors only.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import os
import re
import shlex
import stat
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from adb_shell import exceptions as adb_exceptions

from device_agent.adb.backends import AsyncBackend, ConnectionClosedByPhone, PhoneRefused, Progress, ReadTimedOut
from device_agent.adb.errors import (
    AdbCommandFailed,
    AdbTimeout,
    BadEndpoint,
    DeviceUnauthorised,
    DeviceUnreachable,
    InstallFailed,
    LocalFileError,
)
from device_agent.adb.host_protocol import ENDPOINT_PREFIX, HostProtocolError, RemoteStat, check_serial
from device_agent.adb.keys import AdbKey
from device_agent.adb.message import banner_features, parse_banner, parse_shell_v2
from device_agent.adb.usb import UsbBackend
from phonegate.core import errors as phonegate_errors

log = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_TCP_PORT = 5555
LEGACY_INSTALL_DIR = "/data/local/tmp"
ADB_SERVER_PREFIX = ENDPOINT_PREFIX


@dataclass(frozen=True)
class ShellResult:
    stdout: str
    stderr: str
    exit_code: int | None  # None on phones without shell_v2 (before Android 7), where it is not reported


class PhoneSession:
    """One connected, authorised phone. Not safe for overlapping operations from several tasks; open one each."""

    def __init__(self, endpoint: str, backend: Any, banner: dict[str, str], read_timeout_s: float) -> None:
        self.endpoint = endpoint
        self.banner = banner
        self.features = banner_features(banner)
        self.read_timeout_s = read_timeout_s
        self._backend = backend
        self._broken = False

    def __repr__(self) -> str:
        return f"PhoneSession({self.endpoint!r}, model={self.banner.get('ro.product.model')!r})"

    async def shell(self, command: str, *, timeout_s: float = 30.0) -> str:
        """Run `command` with `sh -c` on the phone; its stdout (and, on old phones, stderr) as text."""
        # The per-read limit is the command's own limit: a phone may think silently for a while (dumpsys).
        output = await self._guarded(f"running {command[:60]!r}", timeout_s, self._backend.shell(command, timeout_s))
        return output.decode("utf-8", errors="replace")

    async def run(self, command: str, *, timeout_s: float = 30.0) -> ShellResult:
        """Like shell(), but with stderr apart and the exit code, where the phone speaks shell protocol v2."""
        if "shell_v2" not in self.features:
            return ShellResult(await self.shell(command, timeout_s=timeout_s), "", None)
        raw = await self._guarded(f"running {command[:60]!r}", timeout_s, self._backend.service("shell,v2,raw", command, timeout_s))
        stdout, stderr, exit_code = parse_shell_v2(raw)
        return ShellResult(stdout.decode("utf-8", errors="replace"), stderr.decode("utf-8", errors="replace"), exit_code)

    async def push(self, local_path: Path, remote_path: str, *, progress: Progress | None = None, timeout_s: float = 300.0) -> None:
        local = Path(local_path)
        info = _local_file(local)
        mode = stat.S_IFREG | stat.S_IMODE(info.st_mode)
        step = self._backend.push(local, remote_path, mode, int(info.st_mtime), progress, self.read_timeout_s)
        await self._guarded(f"copying {local.name} to {remote_path}", timeout_s, step)

    async def pull(self, remote_path: str, local_path: Path, *, progress: Progress | None = None, timeout_s: float = 300.0) -> None:
        """Copy a file from the phone. Written beside `local_path` and renamed at the end: a broken transfer
        leaves no half file."""
        local = Path(local_path)
        if not local.parent.is_dir():
            raise LocalFileError(f"Cannot write {local}: {local.parent} is not a folder.")
        partial = local.with_name(f".{local.name}.partial")
        try:
            await self._guarded(f"copying {remote_path} from the phone", timeout_s,
                                self._backend.pull(remote_path, partial, progress, self.read_timeout_s))
            partial.replace(local)
        except OSError as exc:
            raise LocalFileError(f"Cannot write {local}: {exc.strerror or exc}.") from exc
        finally:
            partial.unlink(missing_ok=True)

    async def stat(self, remote_path: str, *, timeout_s: float = 30.0) -> RemoteStat:
        """Mode, size and mtime of a path on the phone (mode 0: it does not exist)."""
        mode, size, mtime = await self._guarded(f"looking at {remote_path}", timeout_s, self._backend.stat(remote_path, self.read_timeout_s))
        return RemoteStat(mode, size, mtime)

    async def install(self, apk_path: Path, *, progress: Progress | None = None, timeout_s: float = 600.0) -> None:
        """Install (or replace, -r) the APK. Streams it when the phone supports `cmd`/`abb_exec` (Android 7+),
        else pushes it to /data/local/tmp, runs `pm install -r` and removes it. Raises InstallFailed."""
        apk = Path(apk_path)
        size = _local_file(apk).st_size
        if "abb_exec" in self.features:
            destination = "abb_exec:" + "\0".join(["package", "install", "-r", "-S", str(size)])
        elif "cmd" in self.features:
            destination = f"exec:cmd package 'install' '-r' -S {size}"
        else:
            await self._legacy_install(apk, progress, timeout_s)
            return
        with apk.open("rb") as source:
            step = self._backend.stream_file(destination, source, size, progress, self.read_timeout_s)
            output = await self._guarded(f"installing {apk.name}", timeout_s, step)
        _check_install_output(output.decode("utf-8", errors="replace"))

    async def install_set(self, apk_paths: Sequence[Path], *, progress: Progress | None = None, timeout_s: float = 600.0) -> None:
        """Install a base APK with its splits in one package install session, as `adb install-multiple` does:
        `install-create -S TOTAL`, then `install-write -S SIZE SESSION NAME -` per file, streamed from disk, then
        `install-commit SESSION`. After any failure before the commit answers, `install-abandon SESSION`: Android
        installs nothing until the commit, and the abandon frees what was staged (when the phone is still reachable;
        otherwise Android drops the stale session itself). One file is an ordinary install(). Raises InstallFailed."""
        apks = [Path(p) for p in apk_paths]
        if len(apks) == 1:
            await self.install(apks[0], progress=progress, timeout_s=timeout_s)
            return
        sizes = [_local_file(apk).st_size for apk in apks]
        total = sum(sizes)
        deadline = time.monotonic() + timeout_s
        created = await self._package_command(["install-create", "-r", "-S", str(total)], deadline, "starting an install session")
        match = _SESSION_CREATED.search(created)
        if match is None:
            raise InstallFailed.from_output(created)
        session_id = match.group(1)
        answered = False
        try:
            done = 0
            for apk, size, name in zip(apks, sizes, _session_names(apks), strict=True):
                report = None if progress is None else functools.partial(_progress_within, progress, done, total)
                destination = self._package_destination(["install-write", "-S", str(size), session_id, name, "-"])
                with apk.open("rb") as source:
                    step = self._backend.stream_file(destination, source, size, report, self.read_timeout_s)
                    output = await self._guarded(f"installing {apk.name}", _left(deadline), step)
                _check_install_output(output.decode("utf-8", errors="replace"))
                done += size
            output_text = await self._package_command(["install-commit", session_id], deadline, "committing the install")
            answered = True  # Android ends a committed session itself, installed or refused
            _check_install_output(output_text)
        finally:
            if not answered:
                await self._abandon(session_id)

    def _package_destination(self, args: list[str]) -> str:
        """The stream for one package manager command, chosen as adb install-multiple chooses it."""
        if "abb_exec" in self.features:
            return "abb_exec:" + "\0".join(["package", *args])
        program = "cmd package" if "cmd" in self.features else "pm"
        return f"exec:{program} " + " ".join(shlex.quote(arg) for arg in args)

    async def _package_command(self, args: list[str], deadline: float, what: str) -> str:
        service, _, command = self._package_destination(args).partition(":")
        output = await self._guarded(what, _left(deadline), self._backend.service(service, command, self.read_timeout_s))
        return output.decode("utf-8", errors="replace")

    async def _abandon(self, session_id: str) -> None:
        # Best effort: the failure that brought us here is what the caller needs to hear about.
        with contextlib.suppress(phonegate_errors.PhoneGateError):
            await self._package_command(["install-abandon", session_id], time.monotonic() + 30.0, "abandoning the install session")

    async def _legacy_install(self, apk: Path, progress: Progress | None, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        safe_name = re.sub(r"[^A-Za-z0-9._-]", "_", apk.name) or "app.apk"
        remote = f"{LEGACY_INSTALL_DIR}/phonegate-{safe_name}"
        await self.push(apk, remote, progress=progress, timeout_s=timeout_s)
        try:
            output = await self.shell(f"pm install -r {shlex.quote(remote)}", timeout_s=max(1.0, deadline - time.monotonic()))
        finally:
            if not self._broken:
                with contextlib.suppress(AdbTimeout, DeviceUnreachable):
                    await self.shell(f"rm -f {shlex.quote(remote)}", timeout_s=max(5.0, deadline - time.monotonic()))
        _check_install_output(output)

    async def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a broken connection must not raise
            await self._backend.close()

    async def __aenter__(self) -> PhoneSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _guarded(self, what: str, timeout_s: float, step: Awaitable[T]) -> T:
        if self._broken:
            if inspect.iscoroutine(step):
                step.close()  # never started: close it so Python does not warn "never awaited"
            raise DeviceUnreachable(f"The connection to {self.endpoint} was lost earlier; reconnect to continue.")
        try:
            async with asyncio.timeout(timeout_s):  # unlike wait_for, no extra task per operation
                return await step
        except asyncio.TimeoutError as exc:
            self._broken = True  # a half-read packet may be left on the wire
            raise AdbTimeout(f"{self.endpoint} did not finish {what} within timeout_s={timeout_s:g}.") from exc
        except (adb_exceptions.PushFailedError, adb_exceptions.AdbCommandFailureException, PhoneRefused) as exc:
            raise AdbCommandFailed(f"The phone at {self.endpoint} refused {what}: {_reason(exc)}.") from exc
        except Exception as exc:
            translated = _translate(exc, self.endpoint, what, self.read_timeout_s)
            if translated is None:
                raise
            self._broken = True
            raise translated from exc


def _local_file(path: Path) -> os.stat_result:
    try:
        info = path.stat()
    except OSError as exc:
        raise LocalFileError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    if not stat.S_ISREG(info.st_mode):
        raise LocalFileError(f"{path} is not a regular file.")
    return info


_SESSION_CREATED = re.compile(r"^Success: created install session \[(\d+)\]", re.MULTILINE)


def _session_names(apks: list[Path]) -> list[str]:
    """The names the files are staged under: their own names as adb uses them, numbered if two are alike (Android
    renames every file after reading its manifest, so these names only have to be distinct and safe)."""
    names = [re.sub(r"[^A-Za-z0-9._-]", "_", apk.name).lstrip(".") or "split.apk" for apk in apks]
    if len(set(names)) == len(names):
        return names
    return [f"{index}_{name}" for index, name in enumerate(names)]


def _progress_within(progress: Progress, before: int, total: int, sent: int, _size: int) -> None:
    progress(before + sent, total)


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def _check_install_output(output: str) -> None:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if any(line.startswith("Success") for line in lines) and "Failure" not in output:
        return
    raise InstallFailed.from_output(output)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, adb_exceptions.PushFailedError) and exc.args and isinstance(exc.args[0], (bytes, bytearray)):
        text = exc.args[0].decode("utf-8", errors="replace")
    return text.removeprefix("Command failed: ") or type(exc).__name__


def _translate(exc: BaseException, endpoint: str, what: str, read_timeout_s: float) -> Exception | None:
    if isinstance(exc, (adb_exceptions.TcpTimeoutException, adb_exceptions.AdbTimeoutError, ReadTimedOut)):
        return AdbTimeout(f"{endpoint} stopped answering while {what} (read_timeout_s={read_timeout_s:g}).")
    if isinstance(exc, (ConnectionClosedByPhone, ConnectionError, OSError, asyncio.IncompleteReadError)):
        hint = getattr(exc, "hint", None) or "is the phone still connected?"
        return DeviceUnreachable(f"The connection to {endpoint} was lost while {what}: {hint}.")
    if isinstance(exc, (adb_exceptions.InvalidResponseError, adb_exceptions.InvalidCommandError, adb_exceptions.InvalidChecksumError,
                        HostProtocolError)):
        return DeviceUnreachable(f"{endpoint} sent something that is not ADB while {what}.")
    if isinstance(exc, PhoneRefused):
        return AdbCommandFailed(f"The phone at {endpoint} refused {what}: {_reason(exc)}.")
    if isinstance(exc, adb_exceptions.AdbConnectionError):
        return DeviceUnreachable(f"{endpoint} is not connected.")
    return None


def parse_tcp_endpoint(endpoint: str) -> tuple[str, int]:
    if endpoint.strip().startswith(ADB_SERVER_PREFIX):
        raise BadEndpoint(f"{endpoint!r} names a phone of the adb server, not HOST:PORT.")
    host, sep, port_text = endpoint.strip().rpartition(":")
    if not sep:
        host, port_text = endpoint.strip(), str(DEFAULT_TCP_PORT)
    host = host.strip("[]")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise BadEndpoint(f"{endpoint!r} is not HOST:PORT (for example 192.168.1.20:5555).")
    return host, int(port_text)


PromptCallback = Callable[[DeviceUnauthorised], None]


async def _open_session(
    endpoint: str, backend: Any, key: AdbKey, *, budget_s: float, auth_timeout_s: float, read_timeout_s: float,
    on_prompt: PromptCallback | None = None,
) -> PhoneSession:
    prompted = False

    def phone_prompts() -> None:
        nonlocal prompted
        prompted = True  # the phone did not know the key: it is now showing "Allow USB debugging?"
        if on_prompt is not None:
            on_prompt(backend.unauthorised(endpoint, key))

    async def handshake() -> bytes:
        return await backend.connect(key, auth_timeout_s=auth_timeout_s, read_timeout_s=read_timeout_s, on_prompt=phone_prompts)

    try:
        async with asyncio.timeout(budget_s):  # unlike wait_for, no extra task per connection
            raw_banner = await handshake()
    except asyncio.CancelledError:
        await _close_quietly(backend)  # a caller's own time limit (sweep per-phone limit): still release the socket
        raise
    except Exception as exc:
        await _close_quietly(backend)
        if prompted and isinstance(exc, (asyncio.TimeoutError, adb_exceptions.TcpTimeoutException, adb_exceptions.AdbTimeoutError)):
            raise backend.unauthorised(endpoint, key) from exc
        if isinstance(exc, asyncio.TimeoutError):
            raise AdbTimeout(f"{endpoint} did not complete the ADB handshake in time.") from exc
        if isinstance(exc, ConnectionRefusedError):
            raise DeviceUnreachable(f"Nothing is listening at {endpoint}: is wireless debugging on and the address right?") from exc
        if isinstance(exc, adb_exceptions.TcpTimeoutException) and "Connecting" in str(exc):
            raise DeviceUnreachable(f"Could not reach {endpoint} (no answer to the TCP connection).") from exc
        translated = _translate(exc, endpoint, "connecting", read_timeout_s)
        if translated is None:
            raise
        raise translated from exc
    banner = parse_banner(raw_banner)
    log.debug("connected to %s (%s)", endpoint, banner.get("ro.product.model", "unknown model"))
    return PhoneSession(endpoint, backend, banner, read_timeout_s)


async def _close_quietly(backend: Any) -> None:
    with contextlib.suppress(Exception):
        await backend.close()


async def connect_tcp(
    endpoint: str,
    key: AdbKey,
    *,
    connect_timeout_s: float = 5.0,
    auth_timeout_s: float = 10.0,
    read_timeout_s: float = 10.0,
    on_prompt: PromptCallback | None = None,
) -> PhoneSession:
    """Connect to HOST:PORT (wireless debugging, or a simulated phone). `on_prompt` is told when the phone starts
    showing "Allow USB debugging?" for our key; the connection then waits up to auth_timeout_s for a tap."""
    host, port = parse_tcp_endpoint(endpoint)
    backend = AsyncBackend(host, port, connect_timeout_s)
    budget_s = connect_timeout_s + auth_timeout_s + 2 * read_timeout_s
    return await _open_session(
        f"{host}:{port}", backend, key, budget_s=budget_s, auth_timeout_s=auth_timeout_s, read_timeout_s=read_timeout_s, on_prompt=on_prompt
    )


async def connect_usb(
    key: AdbKey,
    serial: str | None = None,
    *,
    connect_timeout_s: float = 5.0,
    auth_timeout_s: float = 10.0,
    read_timeout_s: float = 10.0,
    on_prompt: PromptCallback | None = None,
) -> PhoneSession:
    """Connect to the phone on USB with `serial` (or the only one). Needs the `usb` extra."""
    backend = UsbBackend(serial, connect_timeout_s)
    endpoint = f"usb:{serial}" if serial else "usb"
    budget_s = connect_timeout_s + auth_timeout_s + 2 * read_timeout_s
    try:
        return await _open_session(
            endpoint, backend, key, budget_s=budget_s, auth_timeout_s=auth_timeout_s, read_timeout_s=read_timeout_s, on_prompt=on_prompt
        )
    except adb_exceptions.UsbDeviceNotFoundError as exc:
        which = f"with serial {serial}" if serial else "over USB"
        raise DeviceUnreachable(f"No phone {which}: check the cable and that USB debugging is on.") from exc


async def connect_adb_server(
    serial: str,
    key: AdbKey,
    *,
    server: Any = None,
    connect_timeout_s: float = 5.0,
    auth_timeout_s: float = 10.0,
    read_timeout_s: float = 10.0,
    on_prompt: PromptCallback | None = None,
) -> PhoneSession:
    """The phone `serial` (as `adb devices` shows it) through the adb server (default: the one adb would use,
    started once if needed). `key` is not used on the wire (the server signs with its own key) but keeps the
    signature of the other ways. An unauthorised phone is waited for up to auth_timeout_s, then DeviceUnauthorised
    names the adb server's key."""
    from device_agent.adb.adb_server import AdbServerBackend, default_server

    try:
        serial = check_serial(serial)
    except HostProtocolError as exc:
        raise BadEndpoint(str(exc)) from None
    backend = AdbServerBackend(server or default_server(), serial, settle_s=connect_timeout_s)
    budget_s = 2 * connect_timeout_s + auth_timeout_s + 3 * read_timeout_s
    return await _open_session(
        backend.endpoint, backend, key, budget_s=budget_s, auth_timeout_s=auth_timeout_s, read_timeout_s=read_timeout_s,
        on_prompt=on_prompt,
    )


async def connect(endpoint: str, key: AdbKey, *, server: Any = None, **options: Any) -> PhoneSession:
    """`HOST:PORT`, `adb:SERIAL` (through `server`, default the environment's adb server), `usb` or `usb:SERIAL`;
    options as for connect_tcp."""
    if endpoint.startswith(ADB_SERVER_PREFIX):
        return await connect_adb_server(endpoint[len(ADB_SERVER_PREFIX):], key, server=server, **options)
    if endpoint == "usb" or endpoint.startswith("usb:"):
        return await connect_usb(key, endpoint.partition(":")[2] or None, **options)
    return await connect_tcp(endpoint, key, **options)


async def wait_for_authorisation(
    endpoint: str,
    key: AdbKey,
    *,
    deadline_s: float = 120.0,
    on_waiting: PromptCallback | None = None,
    connect_timeout_s: float = 5.0,
    read_timeout_s: float = 10.0,
    server: Any = None,
) -> PhoneSession:
    """Connect and wait, up to `deadline_s`, for the person to tap Allow; also waits for a phone that is not
    plugged in or reachable yet. One connection waits for the tap (a new one would show a new prompt);
    `on_waiting` gets the DeviceUnauthorised whose sentence tells the person what to do, once per prompt.
    Raises the last DeviceUnauthorised/DeviceUnreachable when the deadline passes."""
    give_up_at = time.monotonic() + deadline_s
    while True:
        remaining = max(0.1, give_up_at - time.monotonic())
        try:
            return await connect(
                endpoint,
                key,
                server=server,
                connect_timeout_s=min(connect_timeout_s, remaining),
                auth_timeout_s=remaining,
                read_timeout_s=read_timeout_s,
                on_prompt=on_waiting,
            )
        except DeviceUnauthorised:
            raise
        except phonegate_errors.DeviceUnreachable:
            if time.monotonic() + 0.5 >= give_up_at:
                raise
            await asyncio.sleep(0.5)


@contextlib.asynccontextmanager
async def session(endpoint: str, key: AdbKey, **options: Any) -> AsyncIterator[PhoneSession]:
    """`async with session(endpoint, key) as phone:` connects, and closes whatever happens."""
    phone = await connect(endpoint, key, **options)
    try:
        yield phone
    finally:
        await phone.close()
