"""The acceptable-use policy text has a size limit and refuses NUL and control bytes (issue 9: a text of 3 MB, or
with NUL or escape bytes, was accepted), from `phonegate policy publish` and from the web form, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from server.extensions import db
from server.models import PolicyVersion
from server.services.policy import TEXT_MAX_CHARS

GOOD = "# Acceptable use\n\nUse WhatsApp for work only.\n\tIndented line.\r\nWindows line end.\n"


def _versions() -> int:
    return db.session.scalar(select(func.count()).select_from(PolicyVersion)) or 0


@pytest.mark.parametrize("content, message", [
    (b"Policy\x00text\n", "control characters (\\x00)"),
    (b"Policy \x1b[2J text\n", "control characters (\\x1b)"),
    (b"Policy \xe2\x80\xae reversed\n", "control characters (\\u202e)"),
    (b"x" * 3_000_000, "far larger than an acceptable-use policy"),
    (b"x" * (TEXT_MAX_CHARS + 1), "longer than 200,000 characters"),
])
def test_policy_publish_refuses_control_bytes_and_huge_texts(runner, tmp_path, content, message):
    path = tmp_path / "policy.txt"
    path.write_bytes(content)
    result = runner.invoke(["policy", "publish", str(path), "--version", "2026-12"])
    assert result.exit_code == 2
    assert message in result.stderr
    assert _versions() == 0


def test_policy_publish_accepts_plain_text_with_tabs_and_any_line_ends(runner, tmp_path):
    path = tmp_path / "policy.txt"
    path.write_bytes(GOOD.encode())
    result = runner.invoke(["policy", "publish", str(path), "--version", "2026-12"])
    assert result.exit_code == 0, result.stderr
    assert db.session.scalar(select(PolicyVersion.text)) == GOOD.replace("\r\n", "\n")


def test_a_version_label_with_control_characters_is_refused(runner, tmp_path):
    path = tmp_path / "policy.txt"
    path.write_bytes(GOOD.encode())
    result = runner.invoke(["policy", "publish", str(path), "--version", "2026\x1b[31m"])
    assert result.exit_code == 2
    assert "\x1b" not in result.stderr
    assert _versions() == 0


@pytest.mark.parametrize("text", ["Policy \x1b]0;title\x07 text", "Policy\x08\x08\x08 text", "x" * (TEXT_MAX_CHARS + 1)])
def test_the_web_form_refuses_the_same_texts(client, web, text):
    web.sign_in(client, web.admin)
    answer = client.post("/policies/new", data={"label": "2026-12", "text": text,
                                                "csrf_token": web.csrf(client, "/policies/new")})
    assert answer.status_code in (400, 413)
    assert _versions() == 1  # the web fixture's own policy only
