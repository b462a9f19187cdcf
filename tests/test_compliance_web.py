"""Compliance pages: who may see which team, the failing list, the SVG trend, CSV exports, device history,
and publishing rule versions from the web form."""

from __future__ import annotations

import csv
import io
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from server.extensions import db
from server.models import ComplianceRulesVersion
from server.services.actor import Actor
from server.services.compliance.ingest import start_sweep, store_results
from server.services.compliance.sweeps import finish_sweep
from server.web.compliance.csv_export import safe_cell

SVG = "{http://www.w3.org/2000/svg}"


def sweep(when: datetime, outcomes: dict[str, dict[str, str]]) -> None:
    run, _ = start_sweep(db.session, str(uuid.uuid4()), "cli", Actor.system())
    store_results(db.session, run, [
        {"serial": s, "rule": r, "outcome": o, "severity": "high", "observed": "=HYPERLINK(\"http://x\")" if o == "fail" else o,
         "evidence": {}, "checked_at": when} for s, rules in outcomes.items() for r, o in rules.items()],
        [{"serial": s, "facts_summary": {}, "seen_at": when} for s in outcomes])
    finish_sweep(db.session, run.id, Actor.system(), now=when)
    db.session.commit()


@pytest.fixture
def compliance_web(web, factory, compliance_rules):
    """The web fixture's teams with phones and two sweeps of history: T1 failing, T2 fine, O1 in the other team."""
    factory.device(serial="T1", state="provisioned", role="broadcast", team_id=web.team.id, asset_tag="=cmd|' /C calc'!A0",
                   adb_endpoint="127.0.0.1:1", model="Pixel 8")
    factory.device(serial="T2", state="provisioned", role="broadcast", team_id=web.team.id, adb_endpoint="127.0.0.1:2")
    factory.device(serial="O1", state="provisioned", role="broadcast", team_id=web.other_team.id, adb_endpoint="127.0.0.1:3")
    now = datetime.now(timezone.utc) + timedelta(minutes=1)
    sweep(now - timedelta(days=1), {"T1": {"disallowed_apps": "fail"}, "T2": {"disallowed_apps": "pass"},
                                    "O1": {"disallowed_apps": "fail"}})
    sweep(now, {"T1": {"disallowed_apps": "fail"}, "T2": {"disallowed_apps": "pass"}, "O1": {"disallowed_apps": "fail"}})
    return web


def test_manager_sees_own_team_only(client, compliance_web):
    web = compliance_web
    web.login(client, web.manager)
    assert client.get("/compliance/").headers["Location"].endswith(f"/compliance/teams/{web.team.id}")
    page = client.get(f"/compliance/teams/{web.team.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "disallowed_apps" in html
    assert 'id="count-in_grace">1<' in html
    assert 'id="count-compliant">1<' in html
    assert client.get(f"/compliance/teams/{web.other_team.id}").status_code == 403
    assert client.get(f"/compliance/teams/{web.other_team.id}/current.csv").status_code == 403
    assert client.get("/compliance/current.csv").status_code == 403  # all phones: auditors and admins only
    other_phone = db.session.scalar(select(compliance_device_id("O1")))
    assert client.get(f"/compliance/devices/{other_phone}").status_code == 404


def compliance_device_id(serial: str):
    from server.models import Device

    return select(Device.id).where(Device.serial == serial).scalar_subquery()


def test_it_staff_cannot_open_compliance_pages_and_visitors_must_log_in(client, compliance_web):
    web = compliance_web
    assert client.get(f"/compliance/teams/{web.team.id}").status_code == 302  # to the login page
    web.login(client, web.it)
    assert client.get(f"/compliance/teams/{web.team.id}").status_code == 403
    assert client.get("/compliance/").status_code == 403


def test_auditor_sees_every_team_and_the_trend_svg(client, compliance_web):
    web = compliance_web
    web.login(client, web.auditor)
    overview = client.get("/compliance/").get_data(as_text=True)
    assert web.team.name in overview
    assert web.other_team.name in overview
    page = client.get(f"/compliance/teams/{web.other_team.id}")
    assert page.status_code == 200

    response = client.get(f"/compliance/teams/{web.team.id}/trend.svg?days=30")
    assert response.mimetype == "image/svg+xml"
    root = ET.fromstring(response.get_data(as_text=True))
    assert root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert web.team.name in title.text
    assert "1 in grace period" in desc.text
    assert "1 compliant" in desc.text
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert "In grace period" in labels
    assert "Compliant" in labels  # a text legend, not colour alone
    assert len([r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]) >= 2  # two days of columns
    assert "<svg" in page.get_data(as_text=True)  # drawn inline on the page too (no JavaScript needed)


def test_csv_exports_are_complete_and_formula_safe(client, compliance_web):
    web = compliance_web
    web.login(client, web.manager)
    response = client.get(f"/compliance/teams/{web.team.id}/current.csv")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    by_serial = {row["serial"]: row for row in rows}
    # the other team's phone is not exported; the phone waiting for approval for this team is (as on the dashboard)
    assert set(by_serial) == {"T1", "T2", web.device.serial}
    assert by_serial["T1"]["compliance_state"] == "in_grace"
    assert "disallowed_apps" in by_serial["T1"]["failing_rules"]
    assert by_serial["T1"]["asset_tag"] == "'=cmd|' /C calc'!A0"  # a formula becomes text
    assert by_serial["T2"]["compliance_state"] == "compliant"

    history = list(csv.DictReader(io.StringIO(client.get(f"/compliance/teams/{web.team.id}/history.csv").get_data(as_text=True))))
    assert sorted((row["serial"], row["compliance_state"]) for row in history) == [
        ("T1", "in_grace"), ("T1", "in_grace"), ("T2", "compliant"), ("T2", "compliant")]


@pytest.mark.parametrize("value,expected", [("=1+1", "'=1+1"), ("+44", "'+44"), ("-3", "'-3"), ("@SUM(A1)", "'@SUM(A1)"),
                                            ("\tx", "'\tx"), ("plain", "plain"), (None, ""), (5, "5")])
def test_safe_cell(value, expected):
    assert safe_cell(value) == expected


def test_device_history_page(client, compliance_web):
    web = compliance_web
    web.login(client, web.manager)
    device_id = db.session.scalar(select(compliance_device_id("T1")))
    html = client.get(f"/compliance/devices/{device_id}").get_data(as_text=True)
    assert "disallowed_apps" in html
    assert 'id="history"' in html
    assert html.count("govuk-tag") >= 2


def test_admin_publishes_rules_from_the_web_form(client, compliance_web):
    from fixtures_compliance import RULES_FOR_TESTS

    web = compliance_web
    web.login(client, web.auditor)
    assert client.get("/compliance/rules").status_code == 200
    token = web.csrf(client, "/compliance/rules")  # the page's log-out form carries one
    assert client.post("/compliance/rules", data={"document": RULES_FOR_TESTS, "csrf_token": token}).status_code == 403
    client.post("/logout", data={"csrf_token": token})

    web.login(client, web.admin)
    before = db.session.scalar(select(ComplianceRulesVersion.version).order_by(ComplianceRulesVersion.version.desc()).limit(1))
    token = web.csrf(client, "/compliance/rules")
    bad = client.post("/compliance/rules", data={"document": "schema: 1\nrules: [", "csrf_token": token})
    assert bad.status_code == 400
    assert "not valid YAML" in bad.get_data(as_text=True)
    assert client.post("/compliance/rules", data={"document": RULES_FOR_TESTS}).status_code == 400  # no CSRF token
    good = client.post("/compliance/rules", data={"document": RULES_FOR_TESTS.replace("grace_days: 7", "grace_days: 8"),
                                                  "comment": "longer grace", "csrf_token": token})
    assert good.status_code == 302
    latest = db.session.scalar(select(ComplianceRulesVersion).order_by(ComplianceRulesVersion.version.desc()).limit(1))
    assert latest.version == before + 1
    assert latest.comment == "longer grace"
    assert "grace_days: 8" in latest.document
