"""Pure helpers behind the pages: safe policy rendering, the day/month/year date, loopback hosts."""

from __future__ import annotations

from datetime import date

import pytest

from server.web.forms import DateParts, FormErrors, parse_date
from server.web.policy_text import render_policy
from server.web.session import is_loopback_host


def test_policy_text_escapes_html_and_drops_unsafe_links_and_images():
    html = render_policy(
        "# Heading\n\nHello <script>alert(1)</script> <img src=x onerror=alert(1)>\n"
        "[bad](javascript:alert(1)) [good](https://example.test/a) ![pic](https://example.test/p.png)\n\n"
        "<div onclick='x()'>raw</div>\n"
    )
    assert "<script" not in html
    assert "<img" not in html
    assert "<div" not in html
    assert "&lt;script&gt;" in html
    assert "&lt;div onclick=" in html
    assert "javascript:" not in html
    assert '<a class="govuk-link" href="https://example.test/a">good</a>' in html
    assert '<h2 class="govuk-heading-m">Heading</h2>' in html  # the page has the only h1


def test_policy_text_keeps_plain_line_breaks():
    assert "first line<br>" in render_policy("first line\nsecond line")


@pytest.mark.parametrize(("parts", "expected", "error"), [
    (("27", "3", "2026"), date(2026, 3, 27), None),
    (("", "", ""), None, "Enter the training date"),
    (("27", "", "2026"), None, "The training date must include a month"),
    (("31", "2", "2026"), None, "The training date must be a real date, for example 27 3 2026"),
    (("1", "1", "26"), None, "The training date must be a real date, for example 27 3 2026"),
    (("x", "1", "2026"), None, "The training date must be a real date, for example 27 3 2026"),
])
def test_date_input_parsing(parts, expected, error):
    assert parse_date(DateParts(*parts), "the training date") == (expected, error)


def test_form_errors_keep_the_first_message_per_field_in_order():
    errors = FormErrors()
    errors.add("b", "second field")
    errors.add("a", "first message")
    errors.add("a", "ignored")
    errors.extend_from_service({"training_completed_on": ["too old"]}, {"training_completed_on": "training"})
    assert errors.summary() == [{"text": "second field", "href": "#b"}, {"text": "first message", "href": "#a"},
                                {"text": "too old", "href": "#training"}]
    assert errors.message("a") == {"text": "first message"}
    assert errors.message("c") is None


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1:5000", True), ("127.3.4.5", True), ("localhost:5000", True), ("[::1]:5000", True),
    ("phonegate.council.example", False), ("10.0.0.5:5000", False), ("[2001:db8::1]:443", False), ("", False),
])
def test_loopback_hosts(host, loopback):
    assert is_loopback_host(host) is loopback
