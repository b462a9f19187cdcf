"""Drawing provisioning events: one rich progress line per phone on a terminal, plain lines otherwise.

The flow only yields events (provisioning/flow.py); choosing how they look happens here, at the edge, so the
same run reads well in a terminal, in a CI log and in a test's captured output. Events carry what phones and the
server said (models, serials, refusals): `shown` makes each printable (and, for rich, plain text rather than
markup) on its way out, in one place for both renderers.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Protocol, TextIO

from phonegate.core.text import printable
from provisioning.flow import Event, Outcome


def shown(text: str, *, markup: bool = False) -> str:
    """Untrusted `text` as it may be drawn: printable, and with rich's [markup] escaped when it goes to rich."""
    if not markup:
        return printable(text)
    from rich.markup import escape

    return escape(printable(text))


class Renderer(Protocol):
    def handle(self, key: str, event: Event) -> None: ...
    def close(self) -> None: ...


class PlainRenderer:
    """`SERIAL: message` lines; every event is printed once (logs are read after the fact)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def handle(self, key: str, event: Event) -> None:
        marker = ""
        if event.outcome is not None:
            marker = "OK " if event.outcome.exit_code == 0 else f"STOPPED (exit {event.outcome.exit_code}) "
        elif event.warning:
            marker = "WARNING "
        print(shown(f"{event.phone}: {marker}{event.message}"), file=self.stream, flush=True)

    def close(self) -> None:
        pass


class RichRenderer:
    """A live progress bar per phone; warnings and final results stay on screen above the bars."""

    def __init__(self, stream: TextIO | None = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from rich.table import Column

        self.console = Console(file=stream or sys.stdout)
        # The phone column never folds or trims a serial; the step text may be trimmed, because anything worth
        # keeping whole (a request address, a warning, the result) is also printed above the bars, unwrapped.
        self.progress = Progress(
            TextColumn("[bold]{task.fields[phone]}", table_column=Column(no_wrap=True, min_width=22)),
            BarColumn(bar_width=16), TextColumn("{task.description}", table_column=Column(no_wrap=True, overflow="ellipsis", ratio=1)),
            TimeElapsedColumn(), console=self.console, transient=False, expand=True,
        )
        self.tasks: dict[str, int] = {}
        self.progress.start()

    def handle(self, key: str, event: Event) -> None:
        phone, message = shown(event.phone, markup=True), shown(event.message, markup=True)
        if key not in self.tasks:
            self.tasks[key] = self.progress.add_task(message, total=1.0, phone=phone)
        task = self.tasks[key]
        description = message
        if event.outcome is not None:
            ok = event.outcome.exit_code == 0
            description = f"[{'green' if ok else 'red'}]{'done' if ok else 'failed'}[/]"
            self.progress.console.print(f"[{'green' if ok else 'red'}]{phone}: {message}[/]", soft_wrap=True)
        elif event.warning or "://" in event.message:
            self.progress.console.print(f"[yellow]{phone}: {message}[/]" if event.warning else f"{phone}: {message}",
                                        soft_wrap=True)
        self.progress.update(task, completed=event.fraction, description=description, phone=phone)

    def close(self) -> None:
        self.progress.stop()


# Below this a bar beside a serial leaves no room for what is happening: plain lines, which the terminal wraps
# itself (nothing is cut), read better.
MIN_RICH_COLUMNS = 80


def renderer_for(stream: TextIO | None = None) -> Renderer:
    import shutil

    stream = stream or sys.stdout
    wide = shutil.get_terminal_size((0, 0)).columns >= MIN_RICH_COLUMNS
    return RichRenderer(stream) if stream.isatty() and wide else PlainRenderer(stream)


def list_request_addresses(outcomes: Sequence[Outcome | None], stream: TextIO | None = None) -> None:
    """Every enrolment request still waiting for a manager, again at the end, so none is lost in scrolled
    progress: the phone on one line, its address alone on the next (a narrow terminal wraps, never cuts it)."""
    waiting = [o for o in outcomes if o is not None and o.request_url and o.exit_code != 0]
    if not waiting:
        return
    stream = stream or sys.stdout
    print(f"Waiting for a manager ({len(waiting)}):", file=stream)
    for outcome in waiting:
        print(shown(f"  {outcome.serial or 'phone'}"), file=stream)
        print(shown(f"    {outcome.request_url}"), file=stream, flush=True)
