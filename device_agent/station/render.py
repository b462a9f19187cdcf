"""Showing the station: a live table on a terminal, plain lines otherwise (a log, a service manager, a test).

Rows and notes carry what phones and the server said; `shown` (provisioning/progress.py) makes every cell
printable, and escapes rich's markup, on its way out, in one place for both renderers.
"""

from __future__ import annotations

import sys
from typing import Protocol, TextIO

from device_agent.station.phone import Row
from provisioning.progress import shown

COLUMNS = ("serial", "model", "holder", "what was done", "what is next")


def _cells(row: Row) -> list[str]:
    serial = row.serial or row.adb_serial
    return [serial, row.model or "", row.holder or "", row.done, row.next]


class StationRenderer(Protocol):
    def row(self, row: Row) -> None: ...
    def removed(self, adb_serial: str) -> None: ...
    def note(self, message: str) -> None: ...
    def close(self) -> None: ...


class PlainRenderer:
    """One line per change: `SERIAL: what was done; next: what is next`."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.last: dict[str, tuple[str, str]] = {}

    def row(self, row: Row) -> None:
        if self.last.get(row.adb_serial) == (row.done, row.next):
            return
        self.last[row.adb_serial] = (row.done, row.next)
        serial, model, holder, done, next_step = _cells(row)
        who = ", ".join(filter(None, [model, holder]))
        marker = "WARNING " if row.warning else ""
        line = f"{serial}{f' ({who})' if who else ''}: {marker}{done}" + (f"; next: {next_step}" if next_step else "")
        self._print(line)

    def removed(self, adb_serial: str) -> None:
        self.last.pop(adb_serial, None)
        self._print(f"{adb_serial}: unplugged")

    def note(self, message: str) -> None:
        self._print(f"station: {message}")

    def _print(self, line: str) -> None:
        print(shown(line), file=self.stream, flush=True)

    def close(self) -> None:
        pass


class TableRenderer:
    """A rich Live table, one row per plugged-in phone; station notes print above it."""

    def __init__(self, site: str, stream: TextIO | None = None) -> None:
        from rich.console import Console
        from rich.live import Live

        self.site = site
        self.rows: dict[str, Row] = {}
        self.console = Console(file=stream or sys.stdout)
        self.live = Live(self._table(), console=self.console, refresh_per_second=4, transient=False)
        self.live.start()

    def _table(self):  # type: ignore[no-untyped-def]
        from rich.table import Table

        table = Table(title=f"PhoneGate check-in station: {shown(self.site, markup=True)}", expand=True)
        for column in COLUMNS:
            table.add_column(column, overflow="fold")
        for row in self.rows.values():
            cells = [shown(cell, markup=True) for cell in _cells(row)]
            table.add_row(*cells, style="yellow" if row.warning else None)
        if not self.rows:
            table.add_row("", "", "", "no phones plugged in", "plug a phone in")
        return table

    def row(self, row: Row) -> None:
        self.rows[row.adb_serial] = row
        self.live.update(self._table())

    def removed(self, adb_serial: str) -> None:
        self.rows.pop(adb_serial, None)
        self.live.update(self._table())

    def note(self, message: str) -> None:
        self.live.console.print(shown(message, markup=True))

    def close(self) -> None:
        self.live.stop()


def renderer_for(site: str, stream: TextIO | None = None) -> StationRenderer:
    stream = stream or sys.stdout
    return TableRenderer(site, stream) if stream.isatty() else PlainRenderer(stream)
