"""Fixtures for the web pages.

    web           SimpleNamespace: service, team, other_team, a user per role with password TEST_PASSWORD
                  (manager, other_manager in another team of the same service, it, auditor, admin), staff (trained
                  30 days ago), policy (current), device + request (pending, requested by `it`), and
                  login(client, user) -> response (through the form), sign_in(client, user) (a server-side
                  session and its cookie, without the form: fast),
                  csrf(client, path) -> token read from that page's form,
                  new_request(staff=None) -> another pending request.
    browser       a headless Debian Chromium (Playwright, never `playwright install`) for the test; with
                  PHONEGATE_TEST_REQUIRE_SERVICES=1 a missing /usr/bin/chromium fails instead of skipping.
    axe_source    the text of node_modules/axe-core/axe.min.js.
"""

from __future__ import annotations

import os
import re
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import pytest

CHROMIUM = Path(os.environ.get("PHONEGATE_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PROJECT = Path(__file__).resolve().parents[1]
AXE = PROJECT / "node_modules" / "axe-core" / "axe.min.js"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


@lru_cache(maxsize=1)
def _test_password_hash(password: str) -> str:
    from server.services import passwords

    return passwords.hash_password(password)


@pytest.fixture
def web(app, factory):
    from fixtures_server import TEST_PASSWORD

    from server.extensions import db
    from server.services import enrolment
    from server.services.actor import Actor

    service = factory.service("Rights and Participation")
    team = factory.team("Participation Team", service=service)
    other_team = factory.team("Youth Voice", service=service)
    users = {
        "manager": factory.user("manager", team=team, email="manager@example.test"),
        "other_manager": factory.user("manager", team=other_team, email="other@example.test"),
        "it": factory.user("it", email="it@example.test"),
        "auditor": factory.user("auditor", email="auditor@example.test"),
        "admin": factory.user("admin", email="admin@example.test"),
    }
    for user in users.values():
        user.password_hash = _test_password_hash(TEST_PASSWORD)  # argon2 takes ~0.2 s a hash: hash once
    db.session.commit()
    staff = factory.staff(team=team, training=date.today() - timedelta(days=30), name="Alex Example")
    policy = factory.policy("2026-01")
    device = factory.device(manufacturer="samsung", model="SM-S921B", android_release="14", sdk=34,
                            security_patch=date(2026, 10, 1))
    request, _ = enrolment.request_enrolment(db.session, device, Actor.for_user(users["it"]), staff_member=staff)
    db.session.commit()

    def login(client, user, password: str = TEST_PASSWORD):
        page = client.get("/login")
        return client.post("/login", data={"email": user.email, "password": password,
                                           "csrf_token": csrf_from(page.get_data(as_text=True))})

    def sign_in(client, user) -> None:
        """Start a session without the login form (argon2 costs ~0.2 s a try; test_web_auth covers the form)."""
        from server.services import web_sessions

        session_id, _ = web_sessions.start(db.session, user, "password",
                                           web_sessions.Limits.from_settings(app.config["PHONEGATE"]))
        db.session.commit()
        client.set_cookie(app.config["SESSION_COOKIE_NAME"], session_id)

    def csrf(client, path: str = "/") -> str:
        return csrf_from(client.get(path).get_data(as_text=True))

    def new_request(staff_member=None, **device_kw):
        staff_member = staff_member or factory.staff(team=team)
        new_device = factory.device(manufacturer="Google", model="Pixel 8", android_release="15", sdk=35, **device_kw)
        made, _ = enrolment.request_enrolment(db.session, new_device, Actor.for_user(users["it"]), staff_member=staff_member)
        db.session.commit()
        return made

    return SimpleNamespace(service=service, team=team, other_team=other_team, staff=staff, policy=policy,
                           device=device, request=request, login=login, sign_in=sign_in, csrf=csrf, new_request=new_request,
                           password=TEST_PASSWORD, **users)


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.is_file():
        pytest.fail("node_modules/axe-core is missing: run `make node_modules/.installed` (npm install)")
    return AXE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")  # not session: sync Playwright keeps an event loop running in this thread, which breaks asyncio.run() in later modules
def _playwright_browser():
    from fixtures_server import services_required

    if not CHROMIUM.is_file():
        message = f"{CHROMIUM} is not installed (Debian package chromium)"
        if services_required():
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser(_playwright_browser):
    """A fresh browser context (own cookies) per test; the page's CSP is bypassed only so axe can be injected."""
    context = _playwright_browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    try:
        yield context
    finally:
        context.close()


def log_in(page, live_server, user, password) -> None:
    """Log in through the real login page in a Playwright page."""
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")


def serious_axe_problems(page, axe_source: str) -> list[str]:
    """Run axe-core on the page; the serious and critical violations as readable lines."""
    page.add_script_tag(content=axe_source)
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       targets: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}));
    }""")
    return [f"{v['impact']}: {v['id']} ({v['help']}) at {v['targets']}" for v in result
            if v["impact"] in ("serious", "critical")]
