"""printable(): untrusted text shown with its controls escaped, everything else untouched."""

from __future__ import annotations

import json

import pytest

from phonegate.core.text import printable, printable_json


@pytest.mark.parametrize(("raw", "shown"), [
    ("\x1b[2J\x1b]0;owned\x07", "\\x1b[2J\\x1b]0;owned\\x07"),  # clear screen, retitle the window, bell
    ("a\tb\nc\rd", "a\\x09b\\x0ac\\x0dd"),
    ("del\x7f", "del\\x7f"),
    ("c1\x9b31m", "c1\\x9b31m"),  # CSI as one C1 character
    ("abc\u202edcb", "abc\\u202edcb"),  # right-to-left override
    ("\u2066isolate\u2069", "\\u2066isolate\\u2069"),
    ("line\u2028break", "line\\u2028break"),
    ("lone \udcff surrogate", "lone \\udcff surrogate"),
])
def test_controls_are_escaped(raw: str, shown: str) -> None:
    assert printable(raw) == shown


@pytest.mark.parametrize("text", ["Zoë Ålander", "Привет", "مرحبا", "你好", "👨‍👩‍👧 family", "£12.50 — ok"])
def test_names_and_words_in_any_script_are_unchanged(text: str) -> None:
    assert printable(text) == text


def test_printable_output_encodes_anywhere() -> None:
    assert printable("\udcff\x1b").encode("ascii") == b"\\udcff\\x1b"


def test_printable_json_is_printable_ascii_and_round_trips() -> None:
    value = {"text": "\x1b[31mred\x7f \u202e Zoë \x85"}
    dumped = printable_json(value)
    assert all(" " <= char <= "~" or char == "\n" for char in dumped)
    assert json.loads(dumped) == value
