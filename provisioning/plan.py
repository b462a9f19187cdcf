"""`provision --plan FILE.csv`: which phone is for whom, one row per phone, read and checked as a whole.

The file is `serial,staff` (each phone for a staff member, by e-mail) or `serial,broadcast` (each phone a
service's Broadcast phone, by service name). Reading it only checks its shape; provisioning/cli.py then checks
the names with the server and the serials with the adb server, all before any phone or server state is touched,
so a bad row costs nothing but a rerun. Every refusal names the row by its line number in the file.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from phonegate.core.errors import BadInput

# A USB bench holds tens of phones; these bounds only keep a wrong file (a log, a dump) from being read whole.
MAX_PLAN_BYTES = 256 * 1024
MAX_PLAN_ROWS = 500
MAX_FIELD = 254  # an e-mail address's limit, also longer than any serial or service name
HEADERS = {("serial", "staff"): "staff", ("serial", "broadcast"): "broadcast"}


@dataclass(frozen=True)
class PlanRow:
    line: int  # in the file, for error sentences
    serial: str
    staff_email: str | None = None
    broadcast_service: str | None = None

    @property
    def holder(self) -> str:
        return self.staff_email or self.broadcast_service or ""


@dataclass(frozen=True)
class Plan:
    path: Path
    kind: str  # "staff" or "broadcast"
    rows: tuple[PlanRow, ...]

    def row_error(self, row: PlanRow, sentence: str) -> BadInput:
        return BadInput(f"{self.path.name}, line {row.line} ({row.serial}): {sentence} Nothing was registered.")


def read_plan(path: Path) -> Plan:
    """The plan in `path`, or BadInput (exit 2) saying which line is wrong and why."""
    from device_agent.adb import host_protocol as hp

    name = path.name
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_PLAN_BYTES + 1)
    except OSError as exc:
        raise BadInput(f"Cannot read the plan {name}: {exc.strerror or exc}.") from None
    if len(data) > MAX_PLAN_BYTES:
        raise BadInput(f"The plan {name} is larger than {MAX_PLAN_BYTES // 1024} KiB; a plan has one short row per phone.")
    if b"\x00" in data:
        raise BadInput(f"The plan {name} contains NUL bytes: it is not a text CSV file (save it as CSV UTF-8).")
    try:
        text = data.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a byte-order mark
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BadInput(f"The plan {name} is not UTF-8 text (line {line}); save it as CSV UTF-8.") from None
    try:
        records = [(reader.line_num, record) for reader in [csv.reader(io.StringIO(text, newline=""), strict=True)]
                   for record in reader]
    except csv.Error as exc:
        raise BadInput(f"The plan {name} is not valid CSV: {exc}.") from None
    records = [(line, record) for line, record in records if any(cell.strip() for cell in record)]
    if not records:
        raise BadInput(f"The plan {name} is empty; its first line must be `serial,staff` or `serial,broadcast`.")
    header_line, header = records[0]
    kind = HEADERS.get(tuple(cell.strip().lower() for cell in header))
    if kind is None:
        raise BadInput(f"The plan {name}, line {header_line}: the header must be `serial,staff` or `serial,broadcast`, "
                       f"not {_shown(','.join(header))}.")
    if len(records) == 1:
        raise BadInput(f"The plan {name} has a header but no phones.")
    if len(records) - 1 > MAX_PLAN_ROWS:
        raise BadInput(f"The plan {name} has more than {MAX_PLAN_ROWS} phones; split it into several plans.")
    rows: list[PlanRow] = []
    seen: dict[str, int] = {}
    for line, record in records[1:]:
        if len(record) != 2:
            raise BadInput(f"The plan {name}, line {line}: a row has two columns (serial and {kind}), this one has {len(record)}.")
        serial, holder = (cell.strip() for cell in record)
        if not serial or not holder:
            raise BadInput(f"The plan {name}, line {line}: both the serial and the {kind} column must be filled in.")
        if len(holder) > MAX_FIELD or not holder.isprintable():
            raise BadInput(f"The plan {name}, line {line}: {_shown(holder)} is not a {'staff e-mail' if kind == 'staff' else 'service name'}.")
        try:
            serial = hp.check_serial(serial)
        except hp.HostProtocolError as exc:
            raise BadInput(f"The plan {name}, line {line}: {exc}.") from None
        if serial in seen:
            raise BadInput(f"The plan {name}, line {line}: serial {serial} is already on line {seen[serial]}; "
                           "one row per phone.")
        seen[serial] = line
        rows.append(PlanRow(line, serial, staff_email=holder if kind == "staff" else None,
                            broadcast_service=holder if kind == "broadcast" else None))
    if kind == "broadcast":
        services: dict[str, int] = {}
        for row in rows:
            key = " ".join(row.holder.split()).lower()
            if key in services:  # a service has one Broadcast phone: two in one plan would hand over within the run
                raise BadInput(f"The plan {name}, line {row.line}: {_shown(row.holder)} already has its Broadcast phone "
                               f"on line {services[key]}; a service has one.")
            services[key] = row.line
    return Plan(path, kind, tuple(rows))


def _shown(text: str) -> str:
    from phonegate.core.text import printable

    return repr(printable(text[:80]))
