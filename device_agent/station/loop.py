"""The station's loop: follow the adb server, hand each plugged-in phone to phone.py, run the site's sweeps.

One asyncio task follows `host:track-devices` (a phone arriving, changing state when Allow is tapped, leaving);
each phone gets its own task, so a slow install never holds up the next phone. A phone plugged in again while its
last task is still finishing is handled again once that task ends. When the adb server goes away the station
says so and follows it again when it is back (adb's own client restarts it). The scheduled sweep covers the
phones plugged in now and the site's TCP phones from the server's plan, every `sweep_every_s`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from device_agent.station.phone import Row, StationContext, handle_phone
from device_agent.station.render import StationRenderer

log = logging.getLogger(__name__)
RETRY_ADB_SERVER_S = 2.0


class Station:
    def __init__(self, context: StationContext, renderer: StationRenderer, adb_server: Any, *,
                 sweep_every_s: float | None) -> None:
        self.context = context
        self.renderer = renderer
        self.adb_server = adb_server
        self.sweep_every_s = sweep_every_s
        self.attached: dict[str, Any] = {}  # adb serial -> hp.AttachedPhone, as the adb server reports them now
        self.rows: dict[str, Row] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.again: set[str] = set()  # plugged in again while still being handled

    async def run(self, stop: asyncio.Event) -> None:
        self.renderer.note(f"check-in station for site {self.context.site}: waiting for phones "
                           f"(adb server {self.adb_server.address}); Ctrl-C stops it")
        workers = [asyncio.create_task(self._follow()), asyncio.create_task(self._deliver_outbox())]
        if self.sweep_every_s:
            workers.append(asyncio.create_task(self._sweep_every(self.sweep_every_s)))
        await stop.wait()
        for task in [*workers, *self.tasks.values()]:
            task.cancel()
        await asyncio.gather(*workers, *self.tasks.values(), return_exceptions=True)
        self.renderer.note("stopped")

    # -- following the adb server ---------------------------------------------------------------------------

    async def _follow(self) -> None:
        from device_agent.adb.errors import AdbServerUnavailable

        while True:
            try:
                async for event in self.adb_server.track_devices():
                    self._on_event(event)
            except AdbServerUnavailable as exc:
                self.renderer.note(f"{exc} Trying again in {RETRY_ADB_SERVER_S:g} s.")
            for serial in list(self.attached):  # whatever the server held is gone with it
                self._removed(serial)
            await asyncio.sleep(RETRY_ADB_SERVER_S)

    def _on_event(self, event: Any) -> None:
        phone = event.phone
        if event.kind == "removed":
            self._removed(phone.serial)
            return
        self.attached[phone.serial] = phone
        if phone.online:
            self._start(phone.serial)
        else:
            self._waiting(phone)

    def _removed(self, adb_serial: str) -> None:
        self.attached.pop(adb_serial, None)
        self.rows.pop(adb_serial, None)
        self.again.discard(adb_serial)
        self.renderer.removed(adb_serial)

    def _waiting(self, phone: Any) -> None:
        from device_agent.adb.keys import fingerprint_of_key_file

        fingerprint = fingerprint_of_key_file(self.adb_server.key_path())
        row = self.rows.setdefault(phone.serial, Row(phone.serial))
        row.done = f"{phone.state}: not authorised for USB debugging yet" if phone.state == "unauthorized" else phone.state
        row.next = (f"unlock the phone and tap \"Allow USB debugging\" for key {fingerprint or 'unknown'} "
                    "(tick \"Always allow from this computer\")")
        row.warning = True
        self.renderer.row(row)

    def _start(self, adb_serial: str) -> None:
        running = self.tasks.get(adb_serial)
        if running is not None and not running.done():
            self.again.add(adb_serial)
            return
        row = Row(adb_serial)
        self.rows[adb_serial] = row
        task = asyncio.create_task(handle_phone(self.context, row, self._update))
        self.tasks[adb_serial] = task
        task.add_done_callback(lambda _t, serial=adb_serial: self._finished(serial))

    def _finished(self, adb_serial: str) -> None:
        self.tasks.pop(adb_serial, None)
        phone = self.attached.get(adb_serial)
        if adb_serial in self.again and phone is not None and phone.online:
            self.again.discard(adb_serial)
            self._start(adb_serial)

    def _update(self, row: Row) -> None:
        if row.adb_serial in self.attached:  # a phone unplugged mid-step is not drawn back
            self.rows[row.adb_serial] = row
            self.renderer.row(row)

    async def _deliver_outbox(self) -> None:
        """Results an earlier run kept (the server was down) go first; each check and sweep then delivers the rest."""
        if not self.context.outbox.count():
            return
        report = await asyncio.to_thread(self._deliver)
        if report.server_down:
            self.renderer.note(f"{self.context.outbox.count()} batch(es) wait in the outbox: the server does not answer yet")
        else:
            self.renderer.note(f"delivered {report.delivered} batch(es) from the outbox")

    def _deliver(self) -> Any:
        from device_agent.sweep_upload import deliver_pending

        api = self.context.make_api()
        try:
            return deliver_pending(api, self.context.outbox)
        finally:
            api.close()

    # -- the site's scheduled sweep -------------------------------------------------------------------------

    async def _sweep_every(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            started = time.monotonic()
            try:
                outcome = await asyncio.to_thread(self._sweep)
            except Exception as exc:  # the next sweep tries again; the station goes on
                log.warning("the scheduled sweep failed", exc_info=True)
                self.renderer.note(f"scheduled sweep failed ({type(exc).__name__}: {exc}); trying again in {every_s:g} s")
                continue
            self.renderer.note(sweep_sentence(outcome, time.monotonic() - started))

    def _sweep(self) -> Any:
        from device_agent.sweep import run_sweep

        endpoints = ["adb:" + serial for serial, phone in self.attached.items() if phone.online]
        serials = {"adb:" + serial: row.serial for serial, row in self.rows.items() if row.serial}
        api = self.context.make_api()
        try:
            return run_sweep(api, self.context.outbox, self.context.sweep_options(), endpoints, serial_numbers=serials)
        finally:
            api.close()


def sweep_sentence(outcome: Any, elapsed_s: float) -> str:
    reports = outcome.reports
    unread = [r for r in reports if r.error]
    text = (f"scheduled sweep: {len(reports)} phone(s) checked in {elapsed_s:.1f} s, {len(outcome.non_compliant)} "
            f"non-compliant, {len(unread)} not reached")
    if outcome.outbox_waiting:
        text += f"; {outcome.outbox_waiting} batch(es) wait in the outbox for the server"
    return text
