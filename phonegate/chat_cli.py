"""`phonegate chat scan` and `phonegate chat transcript`: the conversation review aid on the command line.

Everything shown from the file (senders, excerpts, its name) goes through phonegate.core.text, since an export
is untrusted: a message may hold escape sequences meant for the reviewer's terminal.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import click

from phonegate.core.errors import BadInput, PersonalDataFound

_FILE = click.Path(path_type=Path)  # existence is checked by the reader, so every failure reads the same way


@click.group()
def chat() -> None:
    """WhatsApp "Export chat" files: find personal data, or make a transcript for the case record."""


@chat.command()
@click.argument("file", type=_FILE)
@click.option("--json", "as_json", is_flag=True, help='Print {"findings": [...], "messages": N, "counts": {...}}.')
def scan(file: Path, as_json: bool) -> None:
    """Report personal data in a chat export (.txt or .zip); exit 5 when there is any, 0 when there is none."""
    from phonegate.core.chat.scan import scan_export
    from phonegate.core.text import printable, printable_json

    report = scan_export(file)
    if as_json:
        click.echo(printable_json(report.as_dict()))
    elif report.findings:
        click.echo(f"{'line':>6}  {'kind':<26} {'time':<19}  {'sender':<20}  excerpt")
        for finding in report.findings:
            sender = printable(finding.sender or "")[:20]
            click.echo(printable(f"{finding.line:>6}  {finding.kind:<26} {finding.time:<19}  {sender:<20}  {finding.excerpt}"))
    else:
        click.echo(f"No personal data found in {_count(report.messages, 'message')}.")
    if report.findings:
        counts = ", ".join(f"{kind} {count}" for kind, count in report.counts.items() if count)
        raise PersonalDataFound(f"Personal data found in {printable(str(file))}: {_count(len(report.findings), 'finding')} "
                                f"in {_count(report.messages, 'message')} ({counts}).")


@chat.command()
@click.argument("file", type=_FILE)
@click.option("--format", "output_format", type=click.Choice(["text", "pdf"]), default="text", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="File to write (mode 0600: it holds the conversation).")
def transcript(file: Path, output_format: str, output: Path) -> None:
    """Write a clean, timestamped transcript of a chat export for the case record."""
    from phonegate.core.chat.export_file import read_export
    from phonegate.core.chat.messages import parse_chat
    from phonegate.core.text import printable

    chat_log = parse_chat(read_export(file), name=printable(str(file)))
    made_at = datetime.now(timezone.utc)
    if output_format == "pdf":
        from phonegate.core.chat.transcript_pdf import render_pdf

        content = render_pdf(chat_log, file.name, made_at)
    else:
        from phonegate.core.chat.transcript import render_text

        content = render_text(chat_log, file.name, made_at).encode("utf-8")
    _write_private(output, content)
    click.echo(printable(f"Wrote a transcript of {_count(len(chat_log.messages), 'message')} to {output}."))


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _write_private(path: Path, content: bytes) -> None:
    """Write `content` to `path` as mode 0600, whole or not at all (a temporary file renamed into place)."""
    from phonegate.core.text import printable

    folder = path.parent
    if not folder.is_dir():
        raise BadInput(printable(f"Cannot write {path}: the folder {folder} does not exist."))
    temporary: str | None = None
    try:
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=".transcript-")  # mkstemp creates it 0600
        with os.fdopen(fd, "wb") as stream:
            stream.write(content)
        os.replace(temporary, path)
    except OSError as exc:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        raise BadInput(printable(f"Cannot write {path} ({exc.strerror or exc}).")) from exc
