"""The compliance pages in headless Chromium: the trend chart is drawn with JavaScript off, and axe-core finds
no serious or critical accessibility problem on the team, overview, phone and rules pages."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from fixtures_web import log_in, serious_axe_problems

from server.extensions import db
from server.services.actor import Actor
from server.services.compliance.ingest import start_sweep, store_results
from server.services.compliance.sweeps import finish_sweep

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _sweep(when: datetime, outcomes: dict[str, dict[str, str]]) -> None:
    run, _ = start_sweep(db.session, str(uuid.uuid4()), "cli", Actor.system())
    store_results(db.session, run, [{"serial": s, "rule": r, "outcome": o, "severity": "high", "observed": o, "evidence": {},
                                     "checked_at": when} for s, rules in outcomes.items() for r, o in rules.items()],
                  [{"serial": s, "facts_summary": {}, "seen_at": when} for s in outcomes])
    finish_sweep(db.session, run.id, Actor.system(), now=when)
    db.session.commit()


def test_compliance_pages_render_without_javascript_and_pass_axe(live_server, browser, web, factory, axe_source,
                                                                compliance_rules, _playwright_browser):
    phone = factory.device(serial="BRW1", role="broadcast", state="provisioned", team_id=web.team.id,
                           adb_endpoint="127.0.0.1:1", model="Pixel 8")
    factory.device(serial="BRW2", role="broadcast", state="provisioned", team_id=web.team.id, adb_endpoint="127.0.0.1:2")
    now = datetime.now(timezone.utc) + timedelta(minutes=1)
    for days_ago in (3, 2, 1, 0):
        _sweep(now - timedelta(days=days_ago), {"BRW1": {"disallowed_apps": "fail"}, "BRW2": {"disallowed_apps": "pass"}})

    # JavaScript off: the chart is still there, with its title and text legend.
    no_js = _playwright_browser.new_context(java_script_enabled=False)
    try:
        page = no_js.new_page()
        log_in(page, live_server, web.manager, web.password)
        page.goto(f"{live_server.url}/compliance/teams/{web.team.id}?days=30")
        chart = page.locator("svg[role=img]")
        assert chart.count() == 1
        assert web.team.name in chart.locator("title").first.text_content()
        assert "1 in grace period" in chart.locator("desc").text_content()
        assert chart.locator("rect").count() >= 4
        assert page.get_by_role("table").filter(has_text="disallowed_apps").count() == 1
    finally:
        no_js.close()

    page = browser.new_page()
    problems: dict[str, list[str]] = {}
    log_in(page, live_server, web.manager, web.password)
    for name, path in {"team": f"/compliance/teams/{web.team.id}", "team 30 days": f"/compliance/teams/{web.team.id}?days=30",
                       "phone history": f"/compliance/devices/{phone.id}"}.items():
        page.goto(live_server.url + path)
        problems[name] = serious_axe_problems(page, axe_source)
    page.goto(f"{live_server.url}/")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{live_server.url}/login")
    log_in(page, live_server, web.admin, web.password)
    for name, path in {"overview": "/compliance/", "rules": "/compliance/rules"}.items():
        page.goto(live_server.url + path)
        problems[name] = serious_axe_problems(page, axe_source)
    page.goto(f"{live_server.url}/compliance/rules")
    page.get_by_text("Edit the rules").click()  # the YAML is behind "Edit"
    page.get_by_label("Publish a new version").fill("schema: 1\nrules: [")
    page.get_by_role("button", name="Publish version").click()
    page.get_by_text("The rules were not published").wait_for()
    problems["rules with errors"] = serious_axe_problems(page, axe_source)
    assert {name: found for name, found in problems.items() if found} == {}
