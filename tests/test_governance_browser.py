"""The governance pages in headless Chromium: a manager reports a lost phone and completes a spot check through
the forms, and every new page (with and without errors) passes axe-core with no serious or critical violation and
has no horizontal scroll at 320 px or at 1280 px."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest
from fixtures_chat import Line, write_export
from fixtures_web import log_in, serious_axe_problems
from sqlalchemy import select

from server.extensions import db
from server.models import Device, FollowUp, Incident, SpotCheck
from server.services import incidents
from server.services.actor import Actor
from server.services.follow_ups import FollowUpDraft
from server.services.spot_checks import completion, evidence, starting

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WIDTHS = (320, 1280)
SCREENSHOT_DIR = os.environ.get("PHONEGATE_TEST_SCREENSHOTS")
SNAPSHOT = {
    "serial": "BRWSPOT1", "rules_version": None,
    "facts": {"collected_at": "2026-12-01T10:00:00+00:00", "manufacturer": "samsung", "model": "SM-S921B",
              "android_release": "14", "sdk": 34, "security_patch": "2026-10-01",
              "build_fingerprint": "samsung/e1sxeea/e1s:14/UP1A.231005.007/S921BXXS7BXJ3:user/release-keys",
              "encrypted": True, "secure_lock": True,
              "root": {"su_paths": [], "test_keys": False, "debuggable": False, "verified_boot_state": "green",
                       "bootloader_locked": True},
              "account_types": ["com.google"], "packages": 120, "messaging_apps": [{"package": "com.whatsapp",
                                                                                     "version_name": "2.24", "version_code": 1}]},
    "compliance": [{"rule": "media_retention", "outcome": "fail", "severity": "medium",
                    "observed": "3 media file(s) older than 30 days (oldest 90). Enter the conversations these files "
                                "belong to in the case record, then delete them."},
                   {"rule": "storage_encrypted", "outcome": "pass", "severity": "critical", "observed": "encrypted"}],
    "whatsapp": {"media": [{"folder": "Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Voice Notes", "files": 12,
                            "oldest_age_days": 90, "newest_age_days": 1, "older_than_limit": 3}],
                 "media_limit_days": 30,
                 "backups": [{"folder": "Android/media/com.whatsapp/WhatsApp/Databases", "name": "msgstore.db.crypt14",
                              "age_days": 1, "size_bytes": 10}],
                 "exports": [{"folder": "Download", "name": "WhatsApp Chat with [name withheld].txt", "age_days": 3,
                              "size_bytes": 9}], "google_account_present": True},
    "problems": [],
}


def _wide(page, region: str | None) -> bool:
    """The page scrolls sideways; or, for `region` (a selector), that part of it does not fit the window."""
    if region is None:
        return page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")
    return page.evaluate("""(selector) => { const e = document.querySelector(selector);
        return e === null || e.getBoundingClientRect().right > window.innerWidth || e.scrollWidth > e.clientWidth; }""",
                         region)


def _check(page, axe_source: str, name: str, problems: dict, region: str | None = None) -> None:
    """axe-core and horizontal scroll at each width, for the page as it is now."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        found = serious_axe_problems(page, axe_source)
        if _wide(page, region):
            found.append(f"horizontal scroll at {width} px")
        problems[f"{name} at {width}"] = found
        if SCREENSHOT_DIR:
            page.screenshot(path=os.path.join(SCREENSHOT_DIR, f"{name.replace(' ', '-')}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def _phone(web, factory, serial: str):
    holder = factory.staff(team=web.team, name="Robin Holder")
    return factory.device(serial=serial, state="provisioned", role="individual", team_id=web.team.id,
                          service_id=web.service.id, staff_member_id=holder.id, manufacturer="samsung", model="SM-S921B")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # pages do not depend on the database
def test_every_governance_page_passes_axe_and_fits_320_px(live_server, browser, web, factory, axe_source, smtp_settings,
                                                          tmp_path, app):
    app.config["PHONEGATE"] = replace(smtp_settings, incident_mailbox="information-security@council.example")
    waiting = starting.start_spot_check(db.session, _phone(web, factory, "BRWSPOT0"), Actor.for_user(web.manager),
                                        smtp_settings)
    with_evidence = starting.start_spot_check(db.session, _phone(web, factory, "BRWSPOT1"), Actor.for_user(web.manager),
                                              smtp_settings)
    db.session.commit()
    evidence.record_evidence(db.session, with_evidence.id, SNAPSHOT, Actor.system())
    done = starting.start_spot_check(db.session, _phone(web, factory, "BRWSPOT2"), Actor.for_user(web.manager), smtp_settings)
    completion.complete_spot_check(db.session, done, Actor.for_user(web.manager), answers={
        "no_sensitive_data": "yes", "case_record": "yes", "inactive_deleted": "no", "media_retention": "yes",
        "service_users_told": "yes"}, outcome="follow_up", notes="Two old chats",
        drafts=[FollowUpDraft("Delete the two inactive chats and tell me", date.today())])
    report = incidents.IncidentReport(kind="wrong_recipient", description="A rota went to the youth group by mistake.",
                                      occurred_on=date.today(), device=db.session.get(Device, done.device_id))
    incident = incidents.report_incident(db.session, Actor.for_user(web.manager), app.config["PHONEGATE"], report)
    db.session.commit()
    db.session.scalar(select(FollowUp)).due_on = date.today() - timedelta(days=1)  # overdue, for the dashboard
    db.session.commit()

    page = browser.new_page()
    problems: dict[str, list[str]] = {}
    log_in(page, live_server, web.manager, web.password)
    pages = {
        "dashboard with overdue follow-ups": "/",
        "spot checks": "/spot-checks",
        "all spot checks": "/spot-checks?status=all",
        "new spot check": "/spot-checks/new",
        "spot check waiting": f"/spot-checks/{waiting.id}",
        "spot check with evidence": f"/spot-checks/{with_evidence.id}",
        "spot check completed": f"/spot-checks/{done.id}",
        "spot check report": "/spot-checks/report",
        "incidents": "/incidents?status=all",
        "report an incident": "/incidents/new",
        "report a lost phone": f"/incidents/new?device_id={waiting.device_id}",
        "incident": f"/incidents/{incident.id}",
        "reviews": "/reviews",
        "new review": "/reviews/new",
    }
    for name, path in pages.items():
        page.goto(live_server.url + path)
        # The dashboard is another part's page: only its overdue block is new here (its own tables are theirs).
        _check(page, axe_source, name, problems, region="section.pg-overdue" if path == "/" else None)
    assert "Overdue follow-ups" in page.goto(live_server.url + "/").text()

    # Forms with errors.
    page.goto(f"{live_server.url}/spot-checks/{with_evidence.id}")
    page.get_by_role("button", name="Complete the spot check").click()
    page.get_by_text("There is a problem").wait_for()
    _check(page, axe_source, "spot check with errors", problems)
    page.goto(f"{live_server.url}/incidents/new")
    page.get_by_role("button", name="Report the incident").click()
    page.get_by_text("There is a problem").wait_for()
    _check(page, axe_source, "incident report with errors", problems)

    # The conversation review aid: upload, findings once, then the record.
    export = tmp_path / "WhatsApp Chat with Sam Jones.txt"
    when = datetime(2026, 3, 12, 14, 5)
    export.write_text(write_export([Line(when, "Sam Jones", "hi"), Line(when, "Alex Example",
                                    "Your NHS number is 943 476 5919 and the postcode LE1 6ZG")], "android24"))
    page.goto(f"{live_server.url}/reviews/new")
    page.get_by_label("Chat export").set_input_files(str(export))
    page.get_by_role("button", name="Check for personal data").click()
    page.get_by_role("heading", name="What the chat export holds").wait_for()
    assert "943 476 5919" not in page.content()
    _check(page, axe_source, "review result", problems)
    page.get_by_label("No concerns").check()
    page.get_by_role("button", name="Record the outcome").click()
    page.get_by_text("The review's outcome is recorded.").wait_for()
    _check(page, axe_source, "review record", problems)

    page.goto(f"{live_server.url}/")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{live_server.url}/login")
    log_in(page, live_server, web.auditor, web.password)
    page.goto(f"{live_server.url}/incidents/{incident.id}")
    _check(page, axe_source, "incident for information governance", problems)
    page.get_by_label("Acknowledged").check()
    page.get_by_role("button", name="Save the status").click()
    page.get_by_text(f"Incident {incident.reference} is now acknowledged.").wait_for()

    assert {name: found for name, found in problems.items() if found} == {}
    assert len(problems) == 2 * 19  # every page above, at both widths


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_manager_reports_a_lost_phone_and_completes_a_spot_check_in_the_browser(live_server, browser, web, factory,
                                                                                  smtp_settings, smtp_server, app):
    app.config["PHONEGATE"] = replace(smtp_settings, incident_mailbox="information-security@council.example")
    lost = _phone(web, factory, "BRWLOST1")
    checked = _phone(web, factory, "BRWSPOT9")
    page = browser.new_page()
    page.set_viewport_size({"width": 320, "height": 800})  # on a phone
    log_in(page, live_server, web.manager, web.password)

    page.goto(f"{live_server.url}/incidents/new?device_id={lost.id}")
    page.get_by_label("What happened?").fill("Left on the number 14 bus this morning.")
    page.get_by_role("button", name="Report the incident").click()
    page.get_by_text("The phone's approval is suspended.").wait_for()
    db.session.expire_all()
    assert db.session.get(Device, lost.id).state == "suspended"
    assert len(smtp_server.to("information-security@council.example")) == 1
    assert db.session.scalar(select(Incident)).reference in page.content()

    page.goto(f"{live_server.url}/spot-checks/new?device_id={checked.id}")
    page.get_by_label("Phone", exact=True).select_option(str(checked.id))
    page.get_by_role("button", name="Start the spot check").click()
    page.get_by_text("was e-mailed to bring it by").wait_for()
    for fieldset in page.locator("fieldset").filter(has=page.get_by_role("radio", name="Yes", exact=True)).all():
        fieldset.get_by_role("radio", name="Yes", exact=True).check()
    page.get_by_role("radio", name="No concerns").check()
    page.get_by_role("button", name="Complete the spot check").click()
    page.get_by_text("completed: no concerns").wait_for()
    db.session.expire_all()
    assert db.session.scalar(select(SpotCheck).where(SpotCheck.device_id == checked.id)).status == "completed"
