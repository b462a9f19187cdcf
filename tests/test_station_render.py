"""The station's two renderers: what a phone says is shown printable (no terminal escapes, no rich markup)."""

from __future__ import annotations

import io

from device_agent.station.phone import Row
from device_agent.station.render import PlainRenderer, TableRenderer, renderer_for

HOSTILE = "Pixel\x1b[2J\x07 [bold red]owned[/]"


def _row() -> Row:
    return Row("127.0.0.1:5555", serial="SER1", model=HOSTILE, holder="sam@council.example", done="checked and posted (compliant)",
               next="done: you can unplug it")


def test_plain_lines_carry_every_column_printable() -> None:
    out = io.StringIO()
    renderer = PlainRenderer(out)
    renderer.row(_row())
    renderer.row(_row())  # unchanged: not printed again
    renderer.removed("127.0.0.1:5555")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("SER1 (Pixel")
    assert "sam@council.example" in lines[0]
    assert "; next: done: you can unplug it" in lines[0]
    assert "\x1b" not in out.getvalue()
    assert "\x07" not in out.getvalue()
    assert lines[1] == "127.0.0.1:5555: unplugged"


def test_table_shows_the_columns_and_no_markup_or_escapes() -> None:
    out = io.StringIO()
    renderer = TableRenderer("town-hall", out)
    renderer.row(_row())
    renderer.close()
    text = out.getvalue()
    for heading in ("serial", "model", "holder", "what was done", "what is next"):
        assert heading in text
    assert "[bold" in text  # the markup is shown as typed (folded in a narrow column), not interpreted
    assert "\x1b[2J" not in text


def test_a_pipe_gets_plain_lines() -> None:
    assert isinstance(renderer_for("town-hall", io.StringIO()), PlainRenderer)
