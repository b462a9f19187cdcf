"""The pages changed for issue 10 in headless Chromium: the decision radios reveal only the chosen branch (and,
without JavaScript, show both), the approval ends on the confirmation panel, and every changed page passes axe-core
(no serious or critical violation) with no horizontal scroll at 320 px and at 1280 px.

Set PHONEGATE_TEST_SCREENSHOTS to a folder to keep full-page screenshots of each page at each width."""

from __future__ import annotations

import os
from datetime import date, timedelta

import pytest
from fixtures_web import log_in, serious_axe_problems

from server.extensions import db
from server.services import audit
from server.services.actor import Actor

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WIDTHS = (320, 1280)
SCREENSHOT_DIR = os.environ.get("PHONEGATE_TEST_SCREENSHOTS")


def _check(page, axe_source: str, name: str, problems: dict) -> None:
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        found = serious_axe_problems(page, axe_source)
        if page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth"):
            found.append(f"horizontal scroll at {width} px")
        problems[f"{name} at {width}"] = found
        if SCREENSHOT_DIR:
            os.makedirs(SCREENSHOT_DIR, exist_ok=True)
            page.screenshot(path=os.path.join(SCREENSHOT_DIR, f"{name.replace(' ', '-')}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def _visible(page, selector: str) -> bool:
    return page.locator(selector).first.is_visible()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_radios_reveal_only_the_chosen_branch(live_server, browser, web):
    page = browser.new_page()
    log_in(page, live_server, web.manager, web.password)
    page.goto(f"{live_server.url}/requests/{web.request.id}")
    page.wait_for_function("document.body.classList.contains('govuk-frontend-supported')")  # scripts have run
    assert not _visible(page, "#reason")
    assert not _visible(page, "#acknowledged")
    page.get_by_role("radio", name="Reject").check()
    assert _visible(page, "#reason")
    assert not _visible(page, "#acknowledged")
    page.get_by_role("radio", name="Approve").check()
    assert _visible(page, "#acknowledged")
    assert not _visible(page, "#reason")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_without_javascript_the_reveal_still_works_and_the_server_checks(live_server, _playwright_browser, web):
    context = _playwright_browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        log_in(page, live_server, web.manager, web.password)
        page.goto(f"{live_server.url}/requests/{web.request.id}")
        assert not _visible(page, "#reason")
        page.get_by_role("radio", name="Approve").check()
        assert _visible(page, "#acknowledged")
        assert not _visible(page, "#reason")
        page.get_by_role("button", name="Continue").click()  # no statements ticked
        page.get_by_text("There is a problem").wait_for()
        assert page.get_by_role("link", name="Confirm that the staff member has read and acknowledged the current policy").count() == 1
    finally:
        context.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_changed_page_passes_axe_and_fits_320_and_1280_px(live_server, browser, web, axe_source, factory):
    second = web.new_request()
    failing = factory.device(serial="WIDEPHONE0001", state="provisioned", compliance_state="non_compliant",
                             team_id=web.team.id, service_id=web.service.id, staff_member_id=web.staff.id,
                             manufacturer="OnePlus", model="KB2003")
    # Long, list-valued details: what made the audit log and the timeline wider than a phone before.
    audit.record(db.session, Actor.system(), "compliance.rules_failed", target=failing,
                 details={"rules": ["security_patch_max_age_days", "disallowed_apps", "storage_encrypted"],
                          "device_ids": [failing.id, web.device.id], "team_id": web.team.id,
                          "observed": "com.whatsapp.w4b installed (WhatsApp Business, not in the catalogue)" * 3})
    db.session.commit()
    page = browser.new_page()
    problems: dict[str, list[str]] = {}

    log_in(page, live_server, web.manager, web.password)
    for name, path in {"manager dashboard": "/", "request page": f"/requests/{web.request.id}",
                       "phone page with timeline": f"/devices/{failing.id}",
                       "compliance team page": f"/compliance/teams/{web.team.id}",
                       "policy page": f"/policies/{web.policy.id}"}.items():
        page.goto(live_server.url + path)
        _check(page, axe_source, name, problems)

    page.goto(f"{live_server.url}/requests/{web.request.id}")
    page.get_by_role("radio", name="Reject").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_text("There is a problem").wait_for()
    _check(page, axe_source, "request page with errors", problems)

    page.goto(f"{live_server.url}/requests/{web.request.id}")
    page.get_by_role("radio", name="Approve").check()
    page.get_by_label(f"I confirm that {web.staff.name} has read version {web.policy.label}").check()
    page.get_by_label(f"I confirm that {web.staff.name} completed this training on the date above").check()
    page.get_by_role("button", name="Continue").click()  # the date on record is already filled in
    page.get_by_role("heading", name="Check before you approve").wait_for()
    _check(page, axe_source, "check before you approve", problems)
    page.get_by_role("button", name="Approve").click()
    page.get_by_role("heading", name=f"Request {web.request.id} approved").wait_for()
    _check(page, axe_source, "confirmation panel", problems)
    page.get_by_role("button", name="Decide the next request").click()
    page.wait_for_url(f"{live_server.url}/requests/{second.id}")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{live_server.url}/login")
    log_in(page, live_server, web.admin, web.password)
    for name, path in {"admin dashboard with task list": "/", "audit log": "/audit",
                       "compliance rules": "/compliance/rules", "compliance overview": "/compliance/"}.items():
        page.goto(live_server.url + path)
        _check(page, axe_source, name, problems)
    page.goto(f"{live_server.url}/compliance/rules")
    page.get_by_text("Edit the rules").click()
    page.get_by_label("Publish a new version").fill("not: [valid")
    page.get_by_role("button", name="Publish version").click()
    page.get_by_text("The rules were not published").wait_for()
    _check(page, axe_source, "compliance rules with errors", problems)

    bad = {name: found for name, found in problems.items() if found}
    assert bad == {}, "\n".join(f"{name}: {found}" for name, found in bad.items())
    assert len(problems) == 2 * 13


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_gate_pages_pass_axe_and_fit_320_and_1280_px(live_server, browser, web, axe_source, factory):
    from server.services import enrolment, precheck
    from server.services.decisions import approve_enrolment

    # A request for a rooted phone whose holder already has a phone: the blocking warning and the other phone.
    factory.device(serial="HELDPHONE0001", state="provisioned", team_id=web.team.id, service_id=web.service.id,
                   staff_member_id=web.staff.id)
    precheck.record_precheck(db.session, web.device, Actor.for_user(web.it), [
        {"rule": "not_rooted", "outcome": "fail", "observed": "su found at /system/xbin/su; ro.debuggable=1 " * 3},
        {"rule": "security_patch_max_age_days", "outcome": "fail", "observed": "patch level 2019-03-05 (2,468 days old)"},
        {"rule": "storage_encrypted", "outcome": "pass"}], rules_version=None)
    # A reassignment: an approved phone moved to a colleague.
    moved = web.new_request()
    approve_enrolment(db.session, moved, Actor.for_user(web.manager), policy_sha256=web.policy.sha256, acknowledged=True,
                      training_completed_on=date.today() - timedelta(days=3))
    db.session.commit()
    colleague = factory.staff(team=web.team, name="Robin Colleague")
    reassignment, _ = enrolment.request_enrolment(db.session, moved.device, Actor.for_user(web.it), staff_member=colleague,
                                                  reassign=True, reason="Alex moved to the Youth Voice team")
    db.session.commit()

    # A suspended phone: why, what would reinstate it, and the actions.
    suspended = factory.device(serial="SUSPENDED0001", state="suspended", team_id=web.team.id, service_id=web.service.id,
                               staff_member_id=colleague.id, manufacturer="motorola", model="moto g(6)")
    audit.record(db.session, Actor.system(), "device.state_changed", target=suspended,
                 details={"from": "provisioned", "to": "suspended", "reason": "compliance rules failed: not_rooted"})
    precheck.record_precheck(db.session, suspended, Actor.for_user(web.it), [
        {"rule": "not_rooted", "outcome": "fail", "observed": "su found at /sbin/su"}], rules_version=None)
    db.session.commit()

    page = browser.new_page()
    problems: dict[str, list[str]] = {}
    log_in(page, live_server, web.manager, web.password)
    for name, path in {"blocked request page": f"/requests/{web.request.id}",
                       "reassignment request page": f"/requests/{reassignment.id}",
                       "re-confirmation page": f"/staff/{web.staff.id}/reconfirm",
                       "suspended phone with actions": f"/devices/{suspended.id}"}.items():
        page.goto(live_server.url + path)
        _check(page, axe_source, name, problems)
    page.goto(f"{live_server.url}/requests/{web.request.id}")
    assert page.get_by_role("radio", name="Approve").count() == 0

    bad = {name: found for name, found in problems.items() if found}
    assert bad == {}, "\n".join(f"{name}: {found}" for name, found in bad.items())
    assert len(problems) == 2 * 4
