"""The pages in a real browser (headless Debian Chromium): a manager approves one request and rejects another
through the forms, and axe-core finds no serious or critical accessibility problem on any page."""

from __future__ import annotations

import os
from datetime import date, timedelta

import pytest
from fixtures_web import log_in, serious_axe_problems

from server.extensions import db
from server.models import Device, EnrolmentRequest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOT_DIR = os.environ.get("PHONEGATE_TEST_SCREENSHOTS")  # set to a folder to keep a look at the pages


def test_manager_approves_and_rejects_through_the_real_pages(live_server, browser, web):
    second = web.new_request()
    page = browser.new_page()
    log_in(page, live_server, web.manager, web.password)

    # Approve the first request: decision, acknowledgement, training date, then the confirmation page.
    page.goto(f"{live_server.url}/requests/{web.request.id}")
    page.get_by_role("radio", name="Approve").check()
    page.get_by_label(f"I confirm that {web.staff.name} has read version {web.policy.label} of the acceptable-use policy").check()
    trained = date.today() - timedelta(days=20)
    page.get_by_label("Day").fill(str(trained.day))
    page.get_by_label("Month").fill(str(trained.month))
    page.get_by_label("Year").fill(str(trained.year))
    page.get_by_label(f"I confirm that {web.staff.name} completed this training on the date above").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Check before you approve").wait_for()
    if SCREENSHOT_DIR:
        page.screenshot(path=os.path.join(SCREENSHOT_DIR, "confirm.png"), full_page=True)
    page.get_by_role("button", name="Approve").click()
    page.get_by_role("heading", name=f"Request {web.request.id} approved").wait_for()

    # Reject the second, first forgetting the reason (the error summary says so), then with one.
    page.goto(f"{live_server.url}/requests/{second.id}")
    page.get_by_role("radio", name="Reject").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("link", name="Enter the reason for rejecting this request").wait_for()
    page.get_by_label("Reason for rejecting").fill("Phone is going to another team")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name=f"Request {second.id} rejected").wait_for()

    db.session.expire_all()
    assert db.session.get(EnrolmentRequest, web.request.id).status == "approved"
    assert db.session.get(Device, web.device.id).state == "approved"
    assert db.session.get(EnrolmentRequest, second.id).status == "rejected"


def _broadcast_handover_request(web, factory) -> EnrolmentRequest:
    """An active Broadcast phone and a second phone's pending Broadcast request (its page offers the handover)."""
    from server.services import enrolment
    from server.services.actor import Actor
    from server.services.decisions import approve_enrolment

    first, second = factory.device(serial="BCASTA11Y1"), factory.device(serial="BCASTA11Y2")
    request, _ = enrolment.request_enrolment(db.session, first, Actor.for_user(web.it), broadcast_service=web.service)
    approve_enrolment(db.session, request, Actor.for_user(web.manager), policy_sha256=web.policy.sha256, acknowledged=True)
    waiting, _ = enrolment.request_enrolment(db.session, second, Actor.for_user(web.it), broadcast_service=web.service)
    db.session.commit()
    return waiting


# Accessibility does not depend on the database: one run (SQLite) is enough and saves half a minute.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_no_serious_accessibility_problems_on_any_page(live_server, browser, web, axe_source, factory):
    page = browser.new_page()
    problems: dict[str, list[str]] = {}
    page.goto(f"{live_server.url}/login")
    problems["login"] = serious_axe_problems(page, axe_source)

    # The login page with its error summary, too.
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("There is a problem").wait_for()
    problems["login with errors"] = serious_axe_problems(page, axe_source)

    log_in(page, live_server, web.manager, web.password)
    service_id = web.service.id
    handover_request = _broadcast_handover_request(web, factory)
    pages = {
        "dashboard": "/",
        "requests list": "/requests",
        "request page": f"/requests/{web.request.id}",
        "devices": "/devices",
        "device page": f"/devices/{web.device.id}",
        "broadcast": "/broadcast",
        "broadcast service": f"/broadcast/{service_id}",
        "policies": "/policies",
        "policy page": f"/policies/{web.policy.id}",
        "catalogue": "/catalogue",
        "staff": "/staff",
        "re-confirm page": f"/staff/{web.staff.id}/reconfirm",
        "broadcast request with handover": f"/requests/{handover_request.id}",
        "not found": "/no/such/page",
    }
    for name, path in pages.items():
        page.goto(live_server.url + path)
        problems[name] = serious_axe_problems(page, axe_source)
        if name == "broadcast request with handover":
            assert "Approving hands the Broadcast role over from phone BCASTA11Y1" in page.content()
        if name == "request page" and SCREENSHOT_DIR:
            page.screenshot(path=os.path.join(SCREENSHOT_DIR, "request.png"), full_page=True)

    # The request page after a refused submit (error summary and field errors).
    page.goto(f"{live_server.url}/requests/{web.request.id}")
    page.get_by_role("radio", name="Approve").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_text("There is a problem").wait_for()
    problems["request page with errors"] = serious_axe_problems(page, axe_source)

    page.goto(f"{live_server.url}/staff/{web.staff.id}/reconfirm")
    page.get_by_role("button", name="Continue").click()
    page.get_by_text("There is a problem").wait_for()
    problems["re-confirm page with errors"] = serious_axe_problems(page, axe_source)

    page.goto(f"{live_server.url}/logout")  # GET is not allowed: 405 page in the layout
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{live_server.url}/login")
    log_in(page, live_server, web.admin, web.password)
    for name, path in {"admin catalogue": "/catalogue", "admin staff": "/staff", "new staff": "/staff/new",
                       "new user": "/users/new", "users": "/users", "new policy": "/policies/new",
                       "audit log": "/audit?action=enrolment."}.items():
        page.goto(live_server.url + path)
        problems[name] = serious_axe_problems(page, axe_source)

    assert {name: found for name, found in problems.items() if found} == {}
    assert len(problems) >= 20


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_pages_load_their_assets_under_the_content_security_policy(live_server, _playwright_browser, web):
    """Without bypassing the CSP: styles and scripts load, GOV.UK Frontend starts, nothing is blocked."""
    context = _playwright_browser.new_context()
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        failed: list[str] = []
        page.on("requestfailed", lambda request: failed.append(request.url))
        page.goto(f"{live_server.url}/login")
        page.wait_for_function("document.body.classList.contains('govuk-frontend-supported')")
        # The password input's "Show" button exists only when GOV.UK Frontend's JavaScript ran.
        page.get_by_role("button", name="Show password").wait_for()
        font = page.evaluate("getComputedStyle(document.querySelector('h1')).fontFamily")
        assert "GDS Transport" not in font
        assert "system-ui" in font
        assert errors == []
        assert failed == []
    finally:
        context.close()
