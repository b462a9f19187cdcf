"""Phones through the adb server: a small asyncio client for its host protocol, and the PhoneSession backend on it.

On an IT bench Google's adb server is almost always running and holds every USB phone (libusb then answers
LIBUSB_ERROR_BUSY to anyone else), and on Windows and macOS its drivers are the ones that work. So PhoneGate asks
the server, as `adb` itself does: `AdbServer` finds it (ADB_SERVER_SOCKET, ANDROID_ADB_SERVER_PORT, else
127.0.0.1:5037), starts it once with `adb start-server` when nothing answers and `adb` is on PATH, lists phones
(`host:devices-l`), follows arrivals and removals (`host:track-devices-l`) and opens one service per socket on a
phone (`host:tport:serial:SERIAL`, then `shell,v2,raw:`, `shell:`, `exec:`, `sync:`, `abb_exec:`).

Why our own client and not adbutils (openatx/adbutils, maintained, used by uiautomator2), judged by fitness:
- asyncio: adbutils is blocking sockets. A sweep or a bench of 16-200 phones would need a thread per phone, and
  every timeout would be a socket timeout instead of one `asyncio.timeout` per step as on the TCP backend.
- streamed install: adbutils installs by pushing the APK and running `pm install` (or reads the file into its own
  loop); PhoneGate streams `abb_exec:package install -S SIZE` straight from disk with `loop.sendfile`, so eight
  100 MB installs at once hold no APK in memory.
- exit codes and the transport id: adbutils has shell v2, but reads `host:tport`'s transport id and throws it away;
  we keep it and check it on every service, so a phone swapped (or re-plugged) between two calls is noticed.
- error mapping: adbutils raises AdbError with the server's text; PhoneSession needs unauthorised (with the
  fingerprint of the adb server's key), offline, gone, server stopped and timeouts as PhoneGate's exit-code errors.
- weight: adbutils pulls in Pillow, requests and deprecation; the host protocol is small (host_protocol.py holds
  its pure framing, tested byte for byte and with garbage).
STF's adbkit and scrcpy were read for the same protocol: adbkit (Node) treats each request as its own socket and
the tracker as a diff of device lists, as here; scrcpy runs the `adb` executable and parses `adb devices -l`,
which taught the line format's corners (tabs or spaces, `no permissions (...)`, `usb:` paths).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from device_agent.adb import host_protocol as hp
from device_agent.adb.backends import ConnectionClosedByPhone, PhoneRefused, Progress, ReadTimedOut
from device_agent.adb.errors import AdbServerUnavailable, BadEndpoint, DeviceUnauthorised
from device_agent.adb.keys import adb_server_key_path, fingerprint_of_key_file
from device_agent.adb.message import merge_shell_v2
from phonegate.core.errors import DeviceUnreachable

log = logging.getLogger(__name__)
START_SERVER_TIMEOUT_S = 20.0
SETTLE_POLL_S = 0.2
SENDFILE_SLICE = 4 * 1024 * 1024  # progress is reported after each slice of the zero-copy send

# What a phone in each state needs from the person (states from `adb devices`).
STATE_SENTENCES = {
    "offline": "is offline: unplug it and plug it in again (a phone on wireless debugging: `adb disconnect` and "
               "`adb connect` it again)",
    "connecting": "is still connecting to the adb server: check the cable, then try again",
    "bootloader": "is in the bootloader, not running Android: restart it normally",
    "recovery": "is in recovery mode, not running Android: restart it normally",
    "rescue": "is in rescue mode, not running Android: restart it normally",
    "sideload": "is in sideload mode, not running Android: restart it normally",
    "no permissions": "cannot be opened by the adb server (no permission for the USB device: udev rules or "
                      "the plugdev group on Linux)",
    "host": "is another computer, not a phone",
}
TRANSIENT_STATES = ("offline", "connecting", "authorizing")


class ServerSaidFail(Exception):
    """The adb server answered FAIL; `message` is its text, made printable."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AdbServer:
    """One adb server, as this process reaches it. Holds no connection: every request is its own socket (as adb's
    own client does), so one object serves any number of phones and event loops."""

    def __init__(
        self,
        address: hp.ServerAddress,
        *,
        environ: Mapping[str, str] | None = None,
        adb_path: str | None = None,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 10.0,
    ) -> None:
        self.address = address
        self.environ = dict(os.environ if environ is None else environ)
        self.adb_path = adb_path
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.use_tport = True  # False for servers older than 1.0.41 (learnt from host:version), or forced in tests
        self._contacted = False
        self._start: asyncio.Future[bool] | None = None
        self._start_retried = False  # the one retry after our own start-server (see request) is spent
        self._listing: asyncio.Task[list[hp.AttachedPhone]] | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, **options: Any) -> AdbServer:
        """The adb server adb itself would use; `adb` from PATH to start it. Bad settings: BadEndpoint (exit 2)."""
        env = dict(os.environ if environ is None else environ)
        try:
            address = hp.server_address(env)
        except hp.ServerAddressInvalid as exc:
            raise BadEndpoint(str(exc)) from None
        return cls(address, environ=env, adb_path=shutil.which("adb", path=env.get("PATH")), **options)

    def key_path(self) -> Path:
        return adb_server_key_path(self.environ)

    def __repr__(self) -> str:
        return f"AdbServer({str(self.address)!r})"

    # -- sockets ----------------------------------------------------------------------------------------------

    async def _open_socket(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        async with asyncio.timeout(self.connect_timeout_s):
            return await asyncio.open_connection(self.address.host, self.address.port, limit=1024 * 1024)

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A socket to the server; starts the server once (never again) if nothing answered the first time."""
        try:
            opened = await self._open_socket()
        except (OSError, TimeoutError) as first:
            if not await self._start_once():
                raise AdbServerUnavailable(self._unavailable_sentence(first)) from first
            try:
                opened = await self._open_socket()
            except (OSError, TimeoutError) as second:
                raise AdbServerUnavailable(self._unavailable_sentence(second)) from second
        self._contacted = True
        return opened

    def _unavailable_sentence(self, exc: BaseException) -> str:
        where = f"{self.address} (from {self.address.source})" if self.address.source != "default" else str(self.address)
        if self._contacted:
            return f"The adb server at {where} stopped answering ({_reason(exc)}); was it stopped or restarted?"
        if self.adb_path is None:
            return f"No adb server answers at {where}, and `adb` is not on PATH to start one (install Android platform tools)."
        return f"No adb server answers at {where} ({_reason(exc)}), and `adb start-server` did not start one."

    async def _start_once(self) -> bool:
        """Like adb's own client: start the server when it is not running. Once per process: a server that
        answered before and has stopped is not restarted behind the person's back (its phones would be gone)."""
        if self._start is None:
            if self._contacted or self.adb_path is None or not self.address.is_local:
                return False
            self._start = asyncio.ensure_future(self._start_server())
        elif not self._start.done() and self._start.get_loop() is not asyncio.get_running_loop():
            return False
        try:
            return await asyncio.shield(self._start) if not self._start.done() else self._start.result()
        except Exception:  # the attempt itself failed (logged there)
            return False

    async def _start_server(self) -> bool:
        assert self.adb_path is not None
        log.info("no adb server at %s: running %s start-server", self.address, self.adb_path)
        process = await asyncio.create_subprocess_exec(
            self.adb_path, "start-server", env=self.environ,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(START_SERVER_TIMEOUT_S):
                _, stderr = await process.communicate()
        except TimeoutError:
            process.kill()
            await process.wait()
            log.warning("adb start-server did not finish within %g s", START_SERVER_TIMEOUT_S)
            return False
        if process.returncode != 0:
            log.warning("adb start-server failed: %s", hp.printable_message(stderr or b""))
        return process.returncode == 0

    async def request(self, service: str | bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Send one request and read its status; the socket is then the request's (caller closes it)."""
        payload = hp.encode_request(service)
        try:
            return await self._request_once(payload)
        except ConnectionClosedByPhone:
            # A server this process has just started may accept a connection and reset it while it is still
            # setting itself up (seen with adb 29 right after `adb start-server`): ask that one once more.
            if not self._just_started():
                raise
            await asyncio.sleep(0.2)
            return await self._request_once(payload)

    async def _request_once(self, payload: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await self.connect()
        try:
            writer.write(payload)
            await self._status(reader)
        except BaseException:
            _close(writer)
            raise
        return reader, writer

    def _just_started(self) -> bool:
        """True once per process: this process started the server, and its one retry is not spent yet."""
        start = self._start
        if self._start_retried or start is None or not start.done() or start.cancelled() or start.exception():
            return False
        self._start_retried = True
        return start.result()

    async def _status(self, reader: asyncio.StreamReader) -> None:
        if not hp.check_status(await read_exactly(reader, 4, self.read_timeout_s)):
            length = hp.decode_length(await read_exactly(reader, 4, self.read_timeout_s))
            raise ServerSaidFail(hp.printable_message(await read_exactly(reader, length, self.read_timeout_s)))

    async def query(self, service: str | bytes) -> bytes:
        """A request whose answer is one length-prefixed block (`host:version`, `host:devices-l`, features)."""
        reader, writer = await self.request(service)
        try:
            length = hp.decode_length(await read_exactly(reader, 4, self.read_timeout_s))
            return await read_exactly(reader, length, self.read_timeout_s)
        finally:
            _close(writer)

    # -- what the server knows --------------------------------------------------------------------------------

    async def version(self) -> int:
        return hp.decode_version(await self.query("host:version"))

    async def devices(self) -> list[hp.AttachedPhone]:
        """Every phone the server knows, in any state (`adb devices -l`).

        Callers that ask while a listing is already on its way share its answer (it left the server after they
        asked for nothing older than a few milliseconds): 200 phones connecting at once cost one listing of 200
        lines, not 200 of them (that parsing was a third of the collector's time)."""
        loop = asyncio.get_running_loop()
        listing = self._listing
        if listing is None or listing.done() or listing.get_loop() is not loop:
            listing = self._listing = loop.create_task(self._list_devices())
        return list(await asyncio.shield(listing))

    async def _list_devices(self) -> list[hp.AttachedPhone]:
        return hp.parse_devices(await self.query("host:devices-l"))

    async def find(self, serial: str) -> hp.AttachedPhone | None:
        return next((phone for phone in await self.devices() if phone.serial == serial), None)

    async def features(self, serial: str) -> set[str]:
        return hp.parse_features(await self.query(f"host-serial:{serial}:features"))

    async def track_devices(self) -> AsyncIterator[hp.DeviceEvent]:
        """Arrivals, state changes (Allow tapped) and removals, as they happen; the phones already attached
        arrive first. Waits as long as nothing changes; ends only with AdbServerUnavailable (the server stopped,
        refused, or answered something that is not its protocol)."""
        try:
            reader, writer = await self.request("host:track-devices-l")
        except (ServerSaidFail, ReadTimedOut, ConnectionClosedByPhone, hp.HostProtocolError) as exc:
            raise AdbServerUnavailable(f"The adb server at {self.address} would not report its phones ({exc}).") from exc
        known: dict[str, hp.AttachedPhone] = {}
        try:
            while True:
                try:
                    length = hp.decode_length(await reader.readexactly(4))  # no limit: waits for the next change
                    block = await read_exactly(reader, length, self.read_timeout_s)
                except (asyncio.IncompleteReadError, ConnectionError, ReadTimedOut, hp.HostProtocolError) as exc:
                    raise AdbServerUnavailable(f"The adb server at {self.address} stopped while phones were being "
                                               f"followed ({exc or type(exc).__name__}).") from exc
                phones = hp.parse_devices(block)
                for event in hp.device_changes(known, phones):
                    yield event
                known = {phone.serial: phone for phone in phones}
        finally:
            _close(writer)

    async def open_service(self, serial: str, service: str | bytes, transport_id: int | None) -> HostStream:
        """A socket carrying `service` on the phone `serial`. With `transport_id`, the phone must still be the one
        that had it (ConnectionClosedByPhone otherwise: it was unplugged, re-plugged or swapped since)."""
        if self.use_tport:
            reader, writer = await self.request(f"host:tport:serial:{serial}")
        else:
            reader, writer = await self.request(f"host:transport:{serial}")
        try:
            if self.use_tport:
                now = hp.decode_transport_id(await read_exactly(reader, 8, self.read_timeout_s))
                if transport_id is not None and now != transport_id:
                    raise ConnectionClosedByPhone(
                        f"{serial} is a new connection (transport {now}, was {transport_id})",
                        "the phone was unplugged and plugged in again (or another phone took its place); run again",
                    )
            writer.write(hp.encode_request(service))
            await self._status(reader)
        except BaseException:
            _close(writer)
            raise
        return HostStream(reader, writer)


class HostStream:
    """One service on a phone, as a byte stream through the adb server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def read_exactly(self, size: int, timeout_s: float | None) -> bytes:
        return await read_exactly(self.reader, size, timeout_s)

    async def read_to_end(self, timeout_s: float | None) -> bytes:
        """Everything until the phone closes the service; `timeout_s` bounds each wait for more."""
        parts = []
        while True:
            chunk = await _with_limit(self.reader.read(1024 * 1024), timeout_s, "the phone's answer")
            if not chunk:
                return b"".join(parts)
            parts.append(chunk)

    async def write(self, data: bytes, timeout_s: float | None) -> None:
        self.writer.write(data)
        await _with_limit(self.writer.drain(), timeout_s, "sending to the phone")

    def close(self) -> None:
        _close(self.writer)


async def read_exactly(reader: asyncio.StreamReader, size: int, timeout_s: float | None) -> bytes:
    try:
        return await _with_limit(reader.readexactly(size), timeout_s, f"{size} bytes")
    except asyncio.IncompleteReadError as exc:
        raise ConnectionClosedByPhone(f"the adb server closed the connection after {len(exc.partial)} of {size} bytes") from exc
    except ConnectionError as exc:  # reset rather than closed: the same failure to the caller
        raise ConnectionClosedByPhone(f"the adb server reset the connection ({_reason(exc)})") from exc


async def _with_limit(step: Any, timeout_s: float | None, what: str) -> Any:
    try:
        async with asyncio.timeout(timeout_s):
            return await step
    except TimeoutError as exc:
        raise ReadTimedOut(f"no answer ({what}) within {timeout_s:g} s") from exc


async def _collect(reader: asyncio.StreamReader) -> tuple[bytes, BaseException | None]:
    """Everything until EOF, and the error if the connection broke instead (what arrived before it is kept: the
    phone's verdict may have come just before the adb server reset the connection)."""
    parts = []
    try:
        while chunk := await reader.read(1024 * 1024):
            parts.append(chunk)
    except (ConnectionError, OSError) as exc:
        return b"".join(parts), exc
    return b"".join(parts), None


def _verdict(output: bytes) -> bool:
    """Whether an install answer is complete enough to judge (the package manager said Success or Failure)."""
    return b"Success" in output or b"Failure" in output


def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.close()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return getattr(exc, "strerror", None) or type(exc).__name__


# -- the PhoneSession backend ---------------------------------------------------------------------------------


class AdbServerBackend:
    """PhoneSession's backend for a phone the adb server holds. `connect` checks the phone's state (and waits for
    Allow if it is unauthorised), remembers its transport id and features; every later call opens its own service
    on that same transport."""

    def __init__(self, server: AdbServer, serial: str, *, settle_s: float = 5.0) -> None:
        self.server = server
        self.serial = serial
        self.settle_s = settle_s  # how long a phone may stay offline/connecting/authorizing (just plugged in)
        self.endpoint = f"adb:{serial}"
        self.transport_id: int | None = None
        self.features: set[str] = set()
        self._streams: set[HostStream] = set()

    def unauthorised(self, endpoint: str, key: Any) -> DeviceUnauthorised:
        """The key the phone is asked about is the adb server's, not PhoneGate's: say which, and its fingerprint."""
        path = self.server.key_path()
        home = str(Path.home())
        shown = "~" + str(path)[len(home):] if str(path).startswith(home + os.sep) else str(path)
        return DeviceUnauthorised(endpoint, fingerprint_of_key_file(path), f"the adb server's key {shown}, not PhoneGate's")

    async def connect(self, signer: Any, *, auth_timeout_s: float, read_timeout_s: float, on_prompt: Any) -> bytes:
        phone = await self._settled(self.settle_s)
        if phone.state in ("unauthorized", "authorizing"):
            on_prompt()
            phone = await self._wait_for_allow(auth_timeout_s)
        if not phone.online:
            raise DeviceUnreachable(f"The phone {self.endpoint} {STATE_SENTENCES.get(phone.state, f'is {phone.state}, not ready')}.")
        self.transport_id = phone.transport_id
        with self._errors():
            self.features = await self.server.features(self.serial)
        return hp.banner_for(phone, self.features)

    async def _settled(self, wait_s: float) -> hp.AttachedPhone:
        """The phone's entry, once it has left the states a just-plugged phone passes through (or after wait_s)."""
        give_up = time.monotonic() + wait_s
        while True:
            with self._errors():
                phone = await self.server.find(self.serial)
            if phone is None:
                raise DeviceUnreachable(
                    f"The adb server at {self.server.address} does not know the phone {self.serial}: is it plugged in "
                    "and unlocked, with USB debugging on? (`adb devices` lists what the server sees.)"
                )
            if phone.state not in TRANSIENT_STATES or time.monotonic() >= give_up:
                return phone
            await asyncio.sleep(SETTLE_POLL_S)

    async def _wait_for_allow(self, auth_timeout_s: float) -> hp.AttachedPhone:
        give_up = time.monotonic() + auth_timeout_s
        while True:
            with self._errors():
                phone = await self.server.find(self.serial)
            if phone is None:
                raise DeviceUnreachable(f"The phone {self.endpoint} was unplugged while it was waiting for Allow.")
            if phone.online:
                return phone
            if time.monotonic() >= give_up:
                raise TimeoutError("no Allow")  # _open_session turns this into DeviceUnauthorised (prompted)
            await asyncio.sleep(SETTLE_POLL_S)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """FAIL answers to the phone's requests as PhoneGate sentences (the server's text is printable already)."""
        try:
            yield
        except ServerSaidFail as exc:
            text = exc.message
            if "unauthorized" in text:
                raise self.unauthorised(self.endpoint, None) from None
            if "offline" in text:
                raise DeviceUnreachable(f"The phone {self.endpoint} {STATE_SENTENCES['offline']}.") from None
            if "not found" in text or "no device" in text:
                raise ConnectionClosedByPhone(f"the adb server no longer knows {self.serial}",
                                              "the phone was unplugged or disconnected; plug it in and run again") from None
            raise PhoneRefused(text) from None

    async def _open(self, service: str | bytes, read_timeout_s: float) -> HostStream:
        with self._errors():
            stream = await self._lost_as_phone(self.server.open_service(self.serial, service, self.transport_id))
        self._streams.add(stream)
        return stream

    def _done(self, stream: HostStream) -> None:
        stream.close()
        self._streams.discard(stream)

    async def shell(self, command: str, read_timeout_s: float) -> bytes:
        """stdout and stderr together, as a direct connection's legacy `shell:` gives them. Where the phone speaks
        shell v2 it is asked through v2 and the frames merged: its exit frame proves the answer is whole (a
        legacy stream cut short by a stopped adb server or a pulled cable looks like a short answer)."""
        if "shell_v2" not in self.features:
            return await self.service("shell", command, read_timeout_s)
        merged, _exit_code = merge_shell_v2(await self.service("shell,v2,raw", command, read_timeout_s))
        return merged

    async def service(self, service: str, command: str, read_timeout_s: float) -> bytes:
        stream = await self._open(f"{service}:{command}", read_timeout_s)
        try:
            output = await self._lost_as_phone(stream.read_to_end(read_timeout_s))
        finally:
            self._done(stream)
        if service.startswith("shell,v2") and merge_shell_v2(output)[1] is None:
            raise ConnectionClosedByPhone("the shell ended without its exit code", await self._why_lost())
        return output

    async def _lost_as_phone(self, step: Any) -> Any:
        """A broken connection, with the reason found out (unless it is known already)."""
        try:
            return await step
        except ConnectionClosedByPhone as exc:
            if exc.hint is None:
                exc.hint = await self._why_lost()
            raise
        except (ConnectionError, OSError) as exc:
            raise ConnectionClosedByPhone(str(exc), await self._why_lost()) from exc

    async def _why_lost(self) -> str:
        """After a broken stream: was it the adb server, or the phone? One quick look decides the sentence."""
        try:
            async with asyncio.timeout(2.0):
                phone = await self.server.find(self.serial)
        except Exception:
            return f"the adb server at {self.server.address} stopped answering (was it stopped or restarted?)"
        if phone is None or phone.transport_id != self.transport_id:
            return "the phone was unplugged or disconnected; plug it in and run again"
        return "is the phone still connected?"

    async def stream_file(self, destination: str, source: BinaryIO, size: int, progress: Progress | None, read_timeout_s: float) -> bytes:
        """Open `destination`, send exactly `size` bytes of `source` (zero-copy from disk where the OS allows),
        return everything the phone answered (the package manager's verdict)."""
        stream = await self._open(destination, read_timeout_s)
        answer = asyncio.ensure_future(_collect(stream.reader))  # the caller's overall limit bounds the verdict
        loop = asyncio.get_running_loop()
        offset = source.tell()
        sent = 0
        try:
            while sent < size:
                count = min(SENDFILE_SLICE, size - sent)
                try:
                    step = loop.sendfile(stream.writer.transport, source, offset + sent, count)
                    written = await _with_limit(step, read_timeout_s * max(1, count // (1024 * 1024)), "sending the APK")
                except (ConnectionError, OSError, RuntimeError) as exc:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(1.0):  # the phone may have refused early and closed: its verdict
                            await asyncio.shield(answer)
                    if answer.done() and _verdict(answer.result()[0]):
                        return answer.result()[0]
                    raise ConnectionClosedByPhone(f"sending stopped after {sent} of {size} bytes", await self._why_lost()) from exc
                if not written:
                    raise ConnectionClosedByPhone(f"the local file ended after {sent} of {size} bytes")
                sent += written
                if progress is not None:
                    progress(sent, size)
            output, broken = await answer
            if not _verdict(output) and (broken is not None or not output.strip()):
                # No verdict at all: the phone (or the adb server) went away before the package manager answered.
                raise ConnectionClosedByPhone(f"no answer after the APK was sent ({broken or 'closed'})", await self._why_lost())
            return output
        finally:
            answer.cancel()
            self._done(stream)

    # sync: push, pull, stat ----------------------------------------------------------------------------------

    async def push(self, local_path: Path, remote_path: str, mode: int, mtime: int, progress: Progress | None, read_timeout_s: float) -> None:
        total = local_path.stat().st_size
        request = hp.sync_send_request(remote_path, mode)
        stream = await self._open("sync:", read_timeout_s)
        try:
            await self._lost_as_phone(self._send_file(stream, request, local_path, mtime, total, progress, read_timeout_s))
        finally:
            self._done(stream)

    async def _send_file(self, stream: HostStream, request: bytes, local_path: Path, mtime: int, total: int,
                         progress: Progress | None, read_timeout_s: float) -> None:
        await stream.write(request, read_timeout_s)
        loop = asyncio.get_running_loop()
        done = 0
        with local_path.open("rb") as source:
            while True:
                chunk = await loop.run_in_executor(None, source.read, hp.SYNC_DATA_MAX)
                if not chunk:
                    break
                await stream.write(hp.sync_data(chunk), read_timeout_s)
                done += len(chunk)
                if progress is not None:
                    progress(min(done, total), total)
        await stream.write(hp.sync_done(mtime), read_timeout_s)
        await self._sync_status(stream, read_timeout_s)
        await stream.write(hp.SYNC_QUIT, read_timeout_s)

    async def _sync_status(self, stream: HostStream, read_timeout_s: float) -> None:
        command, length = hp.parse_sync_header(await stream.read_exactly(8, read_timeout_s))
        if command == b"FAIL":
            raise PhoneRefused(hp.printable_message(await stream.read_exactly(min(length, 4096), read_timeout_s)))
        if command != b"OKAY":
            raise hp.HostProtocolError(f"expected OKAY or FAIL after a file transfer, got {command!r}")

    async def pull(self, remote_path: str, local_path: Path, progress: Progress | None, read_timeout_s: float) -> None:
        stream = await self._open("sync:", read_timeout_s)
        try:
            await self._lost_as_phone(self._receive_file(stream, remote_path, local_path, progress, read_timeout_s))
        finally:
            self._done(stream)

    async def _receive_file(self, stream: HostStream, remote_path: str, local_path: Path, progress: Progress | None,
                            read_timeout_s: float) -> None:
        total = 0
        if progress is not None:
            await stream.write(hp.sync_request(b"STAT", remote_path), read_timeout_s)
            total = hp.parse_stat(await stream.read_exactly(hp.SYNC_STAT.size, read_timeout_s)).size
        await stream.write(hp.sync_request(b"RECV", remote_path), read_timeout_s)
        loop = asyncio.get_running_loop()
        done = 0
        with local_path.open("wb") as target:
            while True:
                command, length = hp.parse_sync_header(await stream.read_exactly(8, read_timeout_s))
                if command == b"DONE":
                    break
                if command == b"FAIL":
                    raise PhoneRefused(hp.printable_message(await stream.read_exactly(min(length, 4096), read_timeout_s)))
                if command != b"DATA" or length > hp.SYNC_DATA_MAX:
                    raise hp.HostProtocolError(f"expected DATA of at most {hp.SYNC_DATA_MAX} bytes, got {command!r} of {length}")
                chunk = await stream.read_exactly(length, read_timeout_s)
                await loop.run_in_executor(None, target.write, chunk)
                done += length
                if progress is not None:
                    progress(done, max(total, done))
        await stream.write(hp.SYNC_QUIT, read_timeout_s)

    async def stat(self, remote_path: str, read_timeout_s: float) -> tuple[int, int, int]:
        stream = await self._open("sync:", read_timeout_s)
        try:
            await self._lost_as_phone(stream.write(hp.sync_request(b"STAT", remote_path), read_timeout_s))
            answer = hp.parse_stat(await self._lost_as_phone(stream.read_exactly(hp.SYNC_STAT.size, read_timeout_s)))
            await self._lost_as_phone(stream.write(hp.SYNC_QUIT, read_timeout_s))
        finally:
            self._done(stream)
        return answer.mode, answer.size, answer.mtime

    async def close(self) -> None:
        for stream in list(self._streams):
            self._done(stream)


_default: AdbServer | None = None


def default_server() -> AdbServer:
    """The adb server of this process's environment, built once (so "start it once" holds for the process)."""
    global _default
    if _default is None:
        _default = AdbServer.from_environment()
    return _default
