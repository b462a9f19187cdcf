"""Drawing provisioning events: one rich progress line per phone on a terminal, plain lines otherwise.

The flow only yields events (provisioning/flow.py); choosing how they look happens here, at the edge, so the
same run reads well in a terminal, in a CI log and in a test's captured output. Events carry what phones and the
server said (models, serials, refusals): `shown` makes each printable (and, for rich, plain text rather than
markup) on its way out, in one place for both renderers.
"""

from __future__ import annotations

import sys
from typing import Protocol, TextIO

from phonegate.core.text import printable
from provisioning.flow import Event


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

        self.console = Console(file=stream or sys.stdout)
        self.progress = Progress(
            TextColumn("[bold]{task.fields[phone]:<22}"), BarColumn(bar_width=24), TextColumn("{task.description}"),
            TimeElapsedColumn(), console=self.console, transient=False,
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
            description = f"[{'green' if ok else 'red'}]{'done' if ok else 'failed'}[/]: {message}"
        elif event.warning:
            self.progress.console.print(f"[yellow]{phone}: {message}[/]")
        self.progress.update(task, completed=event.fraction, description=description, phone=phone)

    def close(self) -> None:
        self.progress.stop()


def renderer_for(stream: TextIO | None = None) -> Renderer:
    stream = stream or sys.stdout
    return RichRenderer(stream) if stream.isatty() else PlainRenderer(stream)
