"""Many simulated phones in one asyncio process, each on its own TCP listener.

`PhoneServer` is the asyncio object (used by `phonegate simulate`); `SimulatorThread` runs one in a background
thread so tests and benchmarks can drive phones from ordinary synchronous code.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from device_agent.simulator.protocol import DeviceConnection, KeyStore

if TYPE_CHECKING:
    from device_agent.simulator.phone import VirtualPhone

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class SimulatedPhone:
    """A phone that is listening: what tests and the CLI need to reach and inspect it."""

    phone: VirtualPhone
    host: str
    port: int
    keys: KeyStore
    listener: asyncio.base_events.Server | None = field(default=None, repr=False)
    connections: set[DeviceConnection] = field(default_factory=set, repr=False)
    handlers: set[asyncio.Task[None]] = field(default_factory=set, repr=False)

    @property
    def serial(self) -> str:
        return self.phone.serial

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    def waiting_for_allow(self) -> bool:
        return any(connection.pending_key for connection in self.connections)


class PhoneServer:
    def __init__(self, *, authorized_keys: Path | None = None, accept_on_prompt: bool = False) -> None:
        self.authorized_keys = authorized_keys
        self.accept_on_prompt = accept_on_prompt
        self.phones: dict[str, SimulatedPhone] = {}

    async def add_phone(self, phone: VirtualPhone, *, host: str = "127.0.0.1", port: int = 0) -> SimulatedPhone:
        """Start listening for `phone` (port 0 picks a free port). Raises OSError if the port is taken."""
        if phone.serial in self.phones:
            raise ValueError(f"a phone with serial {phone.serial} is already running")
        simulated = SimulatedPhone(phone=phone, host=host, port=port, keys=KeyStore(self.authorized_keys))

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            connection = DeviceConnection(
                phone,
                simulated.keys,
                reader,
                writer,
                accept_on_prompt=self.accept_on_prompt,
                on_prompt=lambda conn, key: log.info("%s: waiting for Allow", phone.serial),
                on_closed=simulated.connections.discard,
            )
            simulated.connections.add(connection)
            task = asyncio.current_task()
            if task is not None:
                simulated.handlers.add(task)
                task.add_done_callback(simulated.handlers.discard)
            await connection.serve()

        # A read buffer above one max-size packet: the default 64 KiB limit pauses and resumes the socket per packet.
        simulated.listener = await asyncio.start_server(handle, host, port, reuse_address=True, limit=4 * 1024 * 1024)
        simulated.port = simulated.listener.sockets[0].getsockname()[1]
        self.phones[phone.serial] = simulated
        return simulated

    async def allow(self, serial: str, *, always: bool = True) -> int:
        """The person taps Allow on this phone's prompt (with 'Always allow from this computer' ticked unless
        always=False). Only this phone learns the key. Returns how many waiting connections came online."""
        simulated = self.phones[serial]
        count = 0
        for connection in list(simulated.connections):
            if connection.pending_key:
                if always:
                    simulated.keys.allow(connection.pending_key, persist=False)
                await connection.go_online()
                count += 1
        return count

    async def remove_phone(self, serial: str) -> None:
        simulated = self.phones.pop(serial)
        await _stop(simulated)

    async def close(self) -> None:
        phones, self.phones = list(self.phones.values()), {}
        await asyncio.gather(*(_stop(simulated) for simulated in phones))


async def _stop(simulated: SimulatedPhone) -> None:
    if simulated.listener is not None:
        simulated.listener.close()
    for connection in list(simulated.connections):
        connection.writer.transport.abort()
    if simulated.handlers:  # let every connection finish its clean-up before the loop goes away
        await asyncio.wait(list(simulated.handlers), timeout=5)
    if simulated.listener is not None:
        await simulated.listener.wait_closed()


class SimulatorThread:
    """A PhoneServer on its own event loop in a daemon thread; every method is safe to call from other threads."""

    def __init__(self, *, authorized_keys: Path | None = None, accept_on_prompt: bool = False) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="phone-simulator", daemon=True)
        self.server = PhoneServer(authorized_keys=authorized_keys, accept_on_prompt=accept_on_prompt)

    def start(self) -> SimulatorThread:
        self._thread.start()
        return self

    def call(self, coroutine: Coroutine[Any, Any, T], timeout_s: float = 30.0) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout_s)

    def add_phone(self, phone: VirtualPhone, *, host: str = "127.0.0.1", port: int = 0) -> SimulatedPhone:
        return self.call(self.server.add_phone(phone, host=host, port=port))

    def allow(self, serial: str, *, always: bool = True) -> int:
        return self.call(self.server.allow(serial, always=always))

    def waiting_for_allow(self, serial: str) -> bool:
        return self.call(_read(lambda: self.server.phones[serial].waiting_for_allow()))

    def change_phone(self, serial: str, **changes: Any) -> None:
        """VirtualPhone.change(**changes) on the simulator's loop, between two packets, never inside one."""
        self.call(_read(lambda: self.server.phones[serial].phone.change(**changes)))

    def reflash_phone(self, serial: str, profile: Any) -> None:
        """VirtualPhone.reflash(profile) on the simulator's loop (a rooted phone made clean, say)."""
        self.call(_read(lambda: self.server.phones[serial].phone.reflash(profile)))

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        try:
            self.call(self.server.close(), timeout_s=10.0)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10.0)
            self._loop.close()

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


async def _read(getter: Any) -> Any:
    return getter()
