"""The phone's end of ADB over TCP: handshake, the "Allow USB debugging?" prompt, streams and flow control.

One `DeviceConnection` per TCP connection. It speaks exactly what adbd speaks to adb 29 and adb-shell 0.4.4
(see shared/notes/adb-protocol.md): CNXN with the lower version and payload size, a 20-byte AUTH token, checksums
always filled in, OKAY for every host WRTE, at most one un-acknowledged WRTE of ours per stream, CLSE answered.
What each service does lives in `services.py`; this module only moves bytes. Faults (latency, a pulled cable,
a hung phone, a phone that never allows the key) are applied here because they are transport behaviour.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from device_agent.adb import message as m
from device_agent.adb.errors import AdbKeyError
from device_agent.adb.keys import decode_public_key
from device_agent.simulator.services import open_service

if TYPE_CHECKING:
    from device_agent.simulator.phone import VirtualPhone

log = logging.getLogger(__name__)
KEY_FILE_POLL_S = 0.25


class KeyStore:
    """The keys a phone accepts: a shared `adb_keys`-format file plus keys allowed on this phone by a tap.

    The file is re-read when it changes, so adding a line to it authorises a key without a restart.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._file_keys: list[rsa.RSAPublicKey] = []
        self._file_stamp: tuple[float, int] | None = None
        self._tapped: dict[str, rsa.RSAPublicKey] = {}

    def keys(self) -> list[rsa.RSAPublicKey]:
        return self._load_file() + list(self._tapped.values())

    def verify(self, token: bytes, signature: bytes) -> bool:
        for key in self.keys():
            try:
                key.verify(signature, token, padding.PKCS1v15(), utils.Prehashed(hashes.SHA1()))
            except (InvalidSignature, ValueError):
                continue
            return True
        return False

    def knows(self, public_line: str) -> bool:
        try:
            wanted = decode_public_key(public_line).public_numbers()
        except AdbKeyError:
            return False
        return any(key.public_numbers() == wanted for key in self.keys())

    def allow(self, public_line: str, *, persist: bool) -> None:
        """Trust a key on this phone ('Always allow'); `persist` also appends it to the shared adb_keys file,
        which every phone of the simulator reads (demo mode)."""
        key = decode_public_key(public_line)
        self._tapped[public_line.split()[0]] = key
        if persist and self.path is not None and not self.knows_in_file(key):
            with self.path.open("a") as handle:
                handle.write(public_line.strip().rstrip("\0") + "\n")

    def knows_in_file(self, key: rsa.RSAPublicKey) -> bool:
        return any(existing.public_numbers() == key.public_numbers() for existing in self._load_file())

    def _load_file(self) -> list[rsa.RSAPublicKey]:
        if self.path is None:
            return []
        try:
            stat = self.path.stat()
        except OSError:
            return []
        stamp = (stat.st_mtime, stat.st_size)
        if stamp != self._file_stamp:
            keys = []
            for line in self.path.read_text(errors="replace").splitlines():
                if line.strip() and not line.startswith("#"):
                    try:
                        keys.append(decode_public_key(line))
                    except AdbKeyError:
                        log.warning("ignoring a malformed line in %s", self.path)
            self._file_keys, self._file_stamp = keys, stamp
        return self._file_keys


class DeviceStream:
    """One ADB stream as a service sees it: read what the host wrote, write back with flow control."""

    def __init__(self, connection: DeviceConnection, local_id: int, remote_id: int) -> None:
        self.connection = connection
        self.local_id = local_id
        self.remote_id = remote_id
        self._incoming: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._buffer = bytearray()
        self._eof = False
        self._acknowledged = asyncio.Event()
        self._acknowledged.set()
        self.closed = False

    # called by the connection
    def feed(self, data: bytes) -> None:
        self._incoming.put_nowait(data)

    def acknowledged(self) -> None:
        self._acknowledged.set()

    def host_closed(self) -> None:
        self.closed = True
        self._incoming.put_nowait(None)
        self._acknowledged.set()

    # used by services
    async def read(self, limit: int = -1) -> bytes:
        """Up to `limit` bytes (all buffered bytes if -1); b"" once the host has closed the stream."""
        if not self._buffer and not self._eof:
            await self._fill()
        if limit < 0 or limit >= len(self._buffer):
            data, self._buffer = bytes(self._buffer), bytearray()
        else:
            data = bytes(self._buffer[:limit])
            del self._buffer[:limit]
        return data

    async def read_exactly(self, size: int) -> bytes:
        if len(self._buffer) >= size:
            data = bytes(self._buffer[:size])
            del self._buffer[:size]
            return data
        # Large reads (a streamed APK) gather packets and join once: one copy instead of three per byte.
        parts = [bytes(self._buffer)]
        have = len(self._buffer)
        self._buffer = bytearray()
        while have < size:
            if self._eof:
                self._buffer = bytearray(b"".join(parts))
                raise EOFError(f"stream closed after {have} of {size} bytes")
            chunk = await self._incoming.get()
            if chunk is None:
                self._eof = True
                continue
            parts.append(chunk)
            have += len(chunk)
        if have > size:
            last = parts.pop()
            keep = len(last) - (have - size)
            parts.append(last[:keep])
            self._buffer = bytearray(last[keep:])
        return b"".join(parts)

    async def _fill(self) -> None:
        chunk = await self._incoming.get()
        if chunk is None:
            self._eof = True
        else:
            self._buffer += chunk

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        step = self.connection.max_payload
        for start in range(0, len(view), step):
            await self._acknowledged.wait()
            if self.closed:
                raise EOFError("the host closed the stream")
            self._acknowledged.clear()
            await self.connection.send(m.WRTE, self.local_id, self.remote_id, bytes(view[start : start + step]))


class DeviceConnection:
    """Serves one TCP connection from a host (adb server or adb-shell) on behalf of one VirtualPhone."""

    def __init__(
        self,
        phone: VirtualPhone,
        keys: KeyStore,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        accept_on_prompt: bool,
        on_prompt: Callable[[DeviceConnection, str], None],
        on_closed: Callable[[DeviceConnection], None],
    ) -> None:
        self.phone = phone
        self.keys = keys
        self.reader = reader
        self.writer = writer
        self.accept_on_prompt = accept_on_prompt
        self._on_prompt = on_prompt
        self._on_closed = on_closed
        self.version = m.VERSION_CHECKSUM  # until the host's CNXN says what it speaks
        self.max_payload = m.MAX_PAYLOAD
        self.online = False
        self.pending_key: str | None = None  # the key shown on the "Allow USB debugging?" prompt
        self._token = b""
        self._received = 0
        self._next_id = 1
        self._streams: dict[int, DeviceStream] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._send_lock = asyncio.Lock()

    async def serve(self) -> None:
        try:
            if self.phone.faults.hang:
                await self._swallow_forever()
                return
            while True:
                header = await self.reader.readexactly(m.HEADER_SIZE)
                command, arg0, arg1, length, data_check = m.unpack_header(header)
                if length > m.MAX_PAYLOAD:
                    raise m.FramingError(f"payload of {length} bytes exceeds the maximum")
                payload = await self.reader.readexactly(length) if length else b""
                if payload and self.version < m.VERSION_SKIP_CHECKSUM and command != m.CNXN and m.checksum(payload) != data_check:
                    raise m.FramingError("payload checksum mismatch")  # adbd before Android 9 drops the connection
                if self._cable_pulled(length):
                    return
                await self._dispatch(command, arg0, arg1, payload)
        except (asyncio.IncompleteReadError, ConnectionError, m.FramingError, EOFError) as exc:
            log.debug("%s: connection ended: %s", self.phone.serial, exc)
        except Exception:  # a simulator bug ends this connection, never the other phones
            log.exception("%s: connection failed", self.phone.serial)
        finally:
            await self._shut_down()

    async def _swallow_forever(self) -> None:
        # A hung phone: the TCP connection is accepted, nothing ever comes back.
        while await self.reader.read(65536):
            pass

    def _cable_pulled(self, length: int) -> bool:
        self._received += length
        limit = self.phone.faults.drop_after_bytes
        if limit is not None and self._received > limit:
            log.debug("%s: dropping the connection after %d payload bytes", self.phone.serial, self._received)
            self.writer.transport.abort()
            return True
        return False

    async def send(self, command: int, arg0: int, arg1: int, payload: bytes = b"") -> None:
        async with self._send_lock:  # one lock so the latency fault delays packets without reordering them
            latency_ms = self.phone.faults.latency_ms
            if latency_ms:
                await asyncio.sleep(latency_ms / 1000.0)
            # Like adbd: checksums only for hosts that negotiated the old version (adb-shell does, adb 29 does not).
            with_checksum = self.version < m.VERSION_SKIP_CHECKSUM
            self.writer.write(m.pack_message(command, arg0, arg1, payload, with_checksum=with_checksum))
            await self.writer.drain()

    async def _dispatch(self, command: int, arg0: int, arg1: int, payload: bytes) -> None:
        if command == m.CNXN:
            await self._on_host_connect(arg0, arg1)
        elif command == m.AUTH:
            await self._on_auth(arg0, payload)
        elif not self.online:
            return  # a real adbd ignores everything else until the host is authorised
        elif command == m.OPEN:
            await self._on_open(arg0, payload)
        elif command == m.OKAY:
            stream = self._streams.get(arg1)
            if stream is not None:
                stream.acknowledged()
        elif command == m.WRTE:
            stream = self._streams.get(arg1)
            if stream is not None:
                stream.feed(payload)
                await self.send(m.OKAY, stream.local_id, stream.remote_id)
        elif command == m.CLSE:
            stream = self._streams.pop(arg1, None)
            if stream is not None:  # CLSE for a stream we already closed is ignored, as adbd does
                stream.host_closed()
                await self.send(m.CLSE, stream.local_id, stream.remote_id)

    def device_version(self) -> int:
        """adbd learnt to skip checksums in Android 9 (sdk 28); older phones insist on them."""
        return m.VERSION_SKIP_CHECKSUM if self.phone.sdk >= 28 else m.VERSION_CHECKSUM

    async def _on_host_connect(self, version: int, max_payload: int) -> None:
        self.version = min(version, self.device_version())
        self.max_payload = max(256, min(max_payload, m.MAX_PAYLOAD))
        self.online = False
        await self._send_token()

    async def _send_token(self) -> None:
        self._token = os.urandom(m.AUTH_TOKEN_SIZE)
        await self.send(m.AUTH, m.AUTH_TOKEN, 0, self._token)

    async def _on_auth(self, kind: int, payload: bytes) -> None:
        if self.online:
            return
        refused = self.phone.faults.refuse_auth
        if kind == m.AUTH_SIGNATURE:
            if not refused and self._token and self.keys.verify(self._token, payload):
                await self.go_online()
            else:
                await self._send_token()  # lets the host try its next key
        elif kind == m.AUTH_RSAPUBLICKEY:
            public_line = payload.rstrip(b"\0").decode("utf-8", errors="replace")
            if refused:
                return  # the person never taps Allow
            try:
                already_known = self.keys.knows(public_line)
                if self.accept_on_prompt and not already_known:
                    self.keys.allow(public_line, persist=True)
            except AdbKeyError:
                return  # garbage instead of a key: nothing to show on a prompt
            if already_known or self.accept_on_prompt:
                await self.go_online()
            else:
                self.pending_key = public_line
                self._on_prompt(self, public_line)
                self._start(self._allow_when_key_file_lists_it())

    async def _allow_when_key_file_lists_it(self) -> None:
        # How someone running `phonegate simulate` taps Allow: add the key's line to the --authorized-keys file.
        while self.pending_key and not self.online:
            await asyncio.sleep(KEY_FILE_POLL_S)
            if self.pending_key and self.keys.knows(self.pending_key):
                await self.go_online()

    def _start(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def go_online(self) -> None:
        """The key is allowed: send our CNXN; adb flips the device from `unauthorized` to `device` by itself."""
        if self.online:
            return
        self.online = True
        self.pending_key = None
        banner = self.phone.banner().encode("utf-8")
        await self.send(m.CNXN, self.device_version(), m.MAX_PAYLOAD, banner)

    async def _on_open(self, remote_id: int, payload: bytes) -> None:
        destination = payload.rstrip(b"\0").decode("utf-8", errors="surrogateescape")
        handler = open_service(destination, self.phone)
        if handler is None:
            log.debug("%s: unknown service %r", self.phone.serial, destination[:80])
            await self.send(m.CLSE, 0, remote_id)
            return
        local_id = self._next_id
        self._next_id += 1
        stream = DeviceStream(self, local_id, remote_id)
        self._streams[local_id] = stream
        await self.send(m.OKAY, local_id, remote_id)
        self._start(self._run_service(handler, stream))

    async def _run_service(self, handler: Callable[[DeviceStream], object], stream: DeviceStream) -> None:
        try:
            await handler(stream)  # type: ignore[misc]
        except (EOFError, ConnectionError):
            pass
        except Exception:  # a bug in a service must not take the whole phone down
            log.exception("%s: service failed", self.phone.serial)
        if not stream.closed and self._streams.pop(stream.local_id, None) is not None:
            stream.closed = True
            try:
                await self.send(m.CLSE, stream.local_id, stream.remote_id)
            except ConnectionError:
                pass

    async def _shut_down(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for stream in self._streams.values():
            stream.host_closed()
        self._streams.clear()
        self._on_closed(self)
        if not self.writer.is_closing():
            self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass
