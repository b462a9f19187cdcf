"""The dashboard, the compliance page and the CSV export give the same numbers (services/counts.py defines them),
on a database with phones in every lifecycle state and every compliance state, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import re

from server.models import DeviceState
from server.services.compliance.state import STATES


def _seed(web, factory) -> dict[str, int]:
    """One phone of the admin's view in each (phone state, compliance state); returns what should be counted."""
    expected = {state: 0 for state in STATES}
    counted = {"registered", "pending_approval", "approved", "provisioned", "suspended"}
    for phone_state in DeviceState:
        for compliance_state in STATES:
            factory.device(state=phone_state.value, compliance_state=compliance_state, team_id=web.team.id,
                           service_id=web.service.id)
            if phone_state.value in counted:
                expected[compliance_state] += 1
    # the fixture's own phone (pending approval, not checked yet)
    expected["unknown"] += 1
    return expected


def _number(html: str, element_id: str) -> int:
    match = re.search(rf'id="{element_id}">([\d,]+)<', html)
    assert match, f"no #{element_id} on the page"
    return int(match.group(1).replace(",", ""))


def test_dashboard_compliance_page_and_csv_agree(client, web, factory):
    expected = _seed(web, factory)
    web.sign_in(client, web.admin)
    dashboard = client.get("/").get_data(as_text=True)
    compliance = client.get("/compliance/").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(client.get("/compliance/current.csv").get_data(as_text=True))))
    from_csv = {state: sum(1 for row in rows if row["compliance_state"] == state) for state in STATES}

    assert _number(dashboard, "non-compliant-count") == expected["non_compliant"]
    assert _number(dashboard, "not-checked-count") == expected["unknown"]
    assert {state: _number(compliance, f"count-{state}") for state in STATES} == expected
    assert from_csv == expected


def test_a_manager_sees_the_same_numbers_for_their_team(client, web, factory):
    expected = _seed(web, factory)
    for state in STATES:  # another team's phones count for nobody here
        factory.device(state="provisioned", compliance_state=state, team_id=web.other_team.id, service_id=web.service.id)
    web.sign_in(client, web.manager)
    dashboard = client.get("/").get_data(as_text=True)
    team_page = client.get(f"/compliance/teams/{web.team.id}").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(
        client.get(f"/compliance/teams/{web.team.id}/current.csv").get_data(as_text=True))))

    assert _number(dashboard, "non-compliant-count") == expected["non_compliant"]
    assert _number(team_page, "count-non_compliant") == expected["non_compliant"]
    assert sum(1 for row in rows if row["compliance_state"] == "non_compliant") == expected["non_compliant"]
    assert _number(dashboard, "not-checked-count") == _number(team_page, "count-unknown")
