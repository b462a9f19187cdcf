"""Signing in in a real browser (headless Debian Chromium): the council's OpenID provider (oidc-provider on
loopback) end to end, roles following its groups; the password log-in with a second factor; and axe-core on
every page this part added."""

from __future__ import annotations

import time

import pyotp
import pytest
from sqlalchemy import select

from fixtures_oidc import OIDC_PASSWORD
from fixtures_web import log_in, serious_axe_problems
from server.extensions import db
from server.models import User

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROLES = "pg-admins=admin;pg-managers=manager:Participation Team;pg-it=it"


def _sign_in_at_the_provider(page, live_server, login: str, provider_url: str) -> None:
    """Start at PhoneGate's log-in page. The provider asks for the password unless the browser is still signed
    in there (single sign-on), in which case it sends the browser straight back."""
    page.goto(f"{live_server.url}/login")
    page.get_by_role("button", name="Sign in with your council account").click()
    page.wait_for_url(lambda url: url.startswith(f"{provider_url}/interaction/") or url.startswith(live_server.url))
    if page.url.startswith(provider_url):
        page.get_by_label("Username").fill(login)
        page.get_by_label("Password").fill(OIDC_PASSWORD)
        page.get_by_role("button", name="Sign in").click()


def test_council_sign_in_end_to_end_with_roles_following_the_groups(live_server, browser, web, oidc_provider):
    provider = oidc_provider(f"{live_server.url}/login/council/callback")
    provider.configure(live_server.app, ROLES)
    provider.set_user("sam", email="sam.manager@council.example", groups=["pg-managers"])
    page = browser.new_page()

    _sign_in_at_the_provider(page, live_server, "sam", provider.url)
    page.wait_for_url(f"{live_server.url}/")
    page.get_by_role("heading", name="What needs your attention").wait_for()
    assert "Signed in as sam.manager@council.example (team manager)" in page.content()

    # Moved from the managers' group to IT's: the next sign-in gives the IT role (the provider reads the
    # groups again when it issues the new ID token, though the browser is still signed in there).
    provider.set_user("sam", email="sam.manager@council.example", groups=["pg-it"])
    page.get_by_role("button", name="Log out").click()
    page.get_by_text("You have logged out.").wait_for()
    _sign_in_at_the_provider(page, live_server, "sam", provider.url)
    page.wait_for_url(f"{live_server.url}/")
    assert "Signed in as sam.manager@council.example (IT)" in page.content()

    # Out of every PhoneGate group: a clear refusal, not a dashboard.
    provider.set_user("sam", email="sam.manager@council.example", groups=[])
    page.get_by_role("button", name="Log out").click()
    _sign_in_at_the_provider(page, live_server, "sam", provider.url)
    page.get_by_role("heading", name="You cannot sign in to PhoneGate").wait_for()
    db.session.expire_all()
    assert db.session.scalar(select(User.role).where(User.email == "sam.manager@council.example")) == "it"


def _code_at(secret_text: str, when: float) -> str:
    return pyotp.TOTP(secret_text.replace(" ", "")).at(when)


def test_second_factor_set_up_and_asked_for_at_log_in(live_server, browser, web):
    page = browser.new_page()
    log_in(page, live_server, web.manager, web.password)
    page.get_by_role("link", name="Second factor for logging in").click()
    secret = page.locator("#setup-key").inner_text()
    page.get_by_label("Code the app shows now").fill(_code_at(secret, time.time()))
    page.get_by_role("button", name="Turn on the second factor").click()
    page.get_by_text("The second factor is set up.").wait_for()

    page.get_by_role("button", name="Log out").click()
    page.get_by_label("Email address").fill(web.manager.email)
    page.get_by_label("Password", exact=True).fill(web.password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Enter the code from your authenticator app").wait_for()
    # The code used at set-up does not work twice; the next step's code does (one step of clock drift is allowed).
    page.get_by_label("Enter the code from your authenticator app").fill(_code_at(secret, time.time() + 30))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{live_server.url}/")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_no_serious_accessibility_problems_on_the_sign_in_pages(live_server, browser, web, axe_source, oidc_provider):
    provider = oidc_provider(f"{live_server.url}/login/council/callback")
    provider.configure(live_server.app, ROLES)
    provider.set_user("kim", email="kim@council.example", groups=["everyone"])
    page = browser.new_page()
    problems: dict[str, list[str]] = {}

    page.goto(f"{live_server.url}/login")
    problems["login with the council button"] = serious_axe_problems(page, axe_source)
    _sign_in_at_the_provider(page, live_server, "kim", provider.url)
    page.get_by_role("heading", name="You cannot sign in to PhoneGate").wait_for()
    problems["sign-in refused"] = serious_axe_problems(page, axe_source)

    log_in(page, live_server, web.admin, web.password)
    page.goto(f"{live_server.url}/account/second-factor")
    problems["second factor set-up"] = serious_axe_problems(page, axe_source)
    page.get_by_label("Code the app shows now").fill("000000")
    page.get_by_role("button", name="Turn on the second factor").click()
    page.get_by_text("There is a problem").wait_for()
    problems["second factor set-up with errors"] = serious_axe_problems(page, axe_source)
    page.goto(f"{live_server.url}/users")
    problems["users"] = serious_axe_problems(page, axe_source)
    page.goto(f"{live_server.url}/users/{web.manager.id}")
    problems["user page"] = serious_axe_problems(page, axe_source)
    page.get_by_role("button", name="Deactivate and end all sessions").click()
    page.get_by_text("The account is deactivated").wait_for()
    problems["user page after deactivating"] = serious_axe_problems(page, axe_source)

    # The code page, for a user with a second factor.
    from server.services import second_factor

    secret = second_factor.new_secret()
    user = db.session.get(User, web.auditor.id)
    assert second_factor.enrol(db.session, user, secret, pyotp.TOTP(secret).now(), live_server.app.config["PHONEGATE"].secret_key)
    db.session.commit()
    page.get_by_role("button", name="Log out").click()
    page.get_by_label("Email address").fill(web.auditor.email)
    page.get_by_label("Password", exact=True).fill(web.password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Enter the code from your authenticator app").wait_for()
    problems["second factor code"] = serious_axe_problems(page, axe_source)
    page.get_by_role("button", name="Continue").click()
    page.get_by_text("There is a problem").wait_for()
    problems["second factor code with errors"] = serious_axe_problems(page, axe_source)

    found = {name: issues for name, issues in problems.items() if issues}
    assert not found, found
