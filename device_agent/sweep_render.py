"""How a sweep is shown: a rich progress bar on a terminal, plain rate-limited lines otherwise, then a summary.

The sweep itself (device_agent/sweep.py) only reports events; everything about presentation is here. Serials,
endpoints and the server's words are untrusted: `shown` makes each printable (and plain text, not rich markup)
on its way out, and the JSON summary is printable ASCII.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from device_agent.sweep import PhoneReport, SweepOutcome, SweepPlan
from phonegate.core.text import printable, printable_json

PLAIN_EVERY_S = 5.0


def shown(text: str, *, markup: bool = False) -> str:
    """Untrusted `text` as it may be drawn: printable, and with rich's [markup] escaped when it goes to rich."""
    if not markup:
        return printable(text)
    from rich.markup import escape

    return escape(printable(text))


class PlainProgress:
    """For logs and pipes: a line per phone with a problem, and a count line at most every few seconds."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.total = 0
        self.done = 0
        self._last = 0.0

    def start(self, plan: SweepPlan) -> None:
        self.total = len(plan.targets)
        where = f"rules version {plan.rules_version}" if plan.rules_version else "packaged default rules"
        server = "" if plan.online else " (server unreachable: results will wait in the outbox)"
        self._line(f"sweep {plan.sweep_id}: {self.total} phone(s), {where}{server}")

    def phone(self, report: PhoneReport) -> None:
        self.done += 1
        if report.status != "compliant":
            name = report.serial or report.target.endpoint
            detail = ", ".join(report.failing) if report.failing and not report.error else ""
            self._line(f"{name} {report.target.endpoint}: {report.status}{': ' + detail if detail else ''}")
        now = time.monotonic()
        if now - self._last >= PLAIN_EVERY_S or self.done == self.total:
            self._last = now
            self._line(f"checked {self.done}/{self.total} phone(s)")

    def stop(self) -> None:
        pass

    def _line(self, text: str) -> None:
        print(shown(text), file=self.stream, flush=True)


class RichProgress:
    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = Console(file=stream)
        self.progress = Progress(
            TextColumn("[bold]sweep"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[problems]} with problems"),
            TimeElapsedColumn(), console=self.console, transient=True,
        )
        self.task: Any = None
        self.problems = 0

    def start(self, plan: SweepPlan) -> None:
        if not plan.online:
            self.console.print("[yellow]Server unreachable: results will wait in the outbox.[/]")
        self.progress.start()
        self.task = self.progress.add_task("sweep", total=len(plan.targets), problems=0)

    def phone(self, report: PhoneReport) -> None:
        if report.status != "compliant":
            self.problems += 1
        self.progress.update(self.task, advance=1, problems=self.problems)

    def stop(self) -> None:
        self.progress.stop()


def progress_for(stream: TextIO | None = None, quiet: bool = False) -> PlainProgress | RichProgress | None:
    stream = stream or sys.stderr  # looked up now, not at import: tests and pagers swap sys.stderr
    if quiet:
        return None
    return RichProgress(stream) if stream.isatty() else PlainProgress(stream)


def summary_json(outcome: SweepOutcome) -> dict[str, Any]:
    phones = []
    for report in sorted(outcome.reports, key=lambda r: (r.serial or "", r.target.endpoint)):
        phones.append(
            {
                "serial": report.serial,
                "endpoint": report.target.endpoint,
                "status": report.status,
                "failing": report.failing,
                "errors": [r.rule for r in report.results if r.outcome == "error"],
                "results": [r.to_json() for r in report.results],
            }
        )
    counts: dict[str, int] = {}
    for report in outcome.reports:
        key = "unreachable" if report.error else report.status
        counts[key] = counts.get(key, 0) + 1
    return {
        "sweep_id": outcome.plan.sweep_id,
        "rules_version": outcome.plan.rules_version,
        "server_reached": outcome.plan.online and not outcome.delivery.server_down,
        "counts": counts,
        "non_compliant": outcome.non_compliant,
        "server_summary": outcome.server_summary,
        "outbox": {
            "delivered_from_earlier_runs": outcome.earlier.delivered,
            "waiting": outcome.outbox_waiting,
            "set_aside": outcome.delivery.set_aside + outcome.earlier.set_aside,
        },
        "elapsed_s": round(outcome.elapsed_s, 3),
        "phones": phones,
    }


def print_summary(outcome: SweepOutcome, stream: TextIO | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    stream = stream or sys.stdout
    console = Console(file=stream, highlight=False, width=None if stream.isatty() else 160)
    problems = [r for r in outcome.reports if r.status != "compliant"]
    if problems:
        table = Table(title="Phones with problems", show_lines=False)
        for column in ("serial", "endpoint", "status", "failing rules", "unknown"):
            table.add_column(column)
        for report in sorted(problems, key=lambda r: (r.status, r.serial or "")):
            unknown = [r.rule for r in report.results if r.outcome == "error"] if not report.error else ["all"]
            cells = (report.serial or "?", report.target.endpoint, report.status, ", ".join(report.failing), ", ".join(unknown))
            table.add_row(*(shown(cell, markup=True) for cell in cells))
        console.print(table)
    data = summary_json(outcome)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(data["counts"].items())) or "no phones"
    console.print(shown(f"Sweep {outcome.plan.sweep_id}: {len(outcome.reports)} phone(s) in {outcome.elapsed_s:.1f} s: "
                        f"{counts}.", markup=True))
    if outcome.server_summary is not None:
        server_counts = outcome.server_summary.get("counts") or {}
        console.print(shown("Server: " + ", ".join(f"{n} {k.replace('_', '-')}" for k, n in server_counts.items()) + ".",
                            markup=True))
    if outcome.outbox_waiting:
        console.print(f"{outcome.outbox_waiting} batch(es) wait in the outbox; the next sweep delivers them.")
    for item in data["outbox"]["set_aside"]:
        console.print(f"[yellow]Set aside (kept for inspection): {shown(str(item), markup=True)}[/]")


def print_json(outcome: SweepOutcome, stream: TextIO | None = None) -> None:
    (stream or sys.stdout).write(printable_json(summary_json(outcome), sort_keys=True) + "\n")
