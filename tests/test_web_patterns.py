"""The decision page's GOV.UK patterns checked on the server side: statements required even in a forged form, the
training date on record pre-filled, the confirmation panel and its next request, the menu cut to each role (and a
direct visit still refused), the administrator's first-run task list, audit details as names."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from server.extensions import db
from server.models import AuditEntry, CatalogueApp, EnrolmentRequest


def _form(web, client, request_id: int, **overrides) -> dict[str, str]:
    trained = date.today() - timedelta(days=10)
    form = {"csrf_token": web.csrf(client, f"/requests/{request_id}"), "policy_sha256": web.policy.sha256,
            "decision": "approve", "acknowledged": "yes", "training_confirmed": "yes", "confirm": "yes",
            "training-day": str(trained.day), "training-month": str(trained.month), "training-year": str(trained.year)}
    form.update(overrides)
    return {key: value for key, value in form.items() if value is not None}


@pytest.mark.parametrize("missing", ["acknowledged", "training_confirmed"])
def test_a_forged_approval_without_the_statements_is_refused(client, web, missing):
    web.sign_in(client, web.manager)
    response = client.post(f"/requests/{web.request.id}/decision", data=_form(web, client, web.request.id, **{missing: None}))
    assert response.status_code == 400
    assert f'href="#{missing}"' in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(EnrolmentRequest, web.request.id).status == "pending"
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "enrolment.approved")) is None


def test_the_training_date_on_record_is_prefilled_but_not_confirmed(client, web):
    web.sign_in(client, web.manager)
    html = client.get(f"/requests/{web.request.id}").get_data(as_text=True)
    recorded = web.staff.training_completed_on
    assert re.search(rf'name="training-day"[^>]*value="{recorded.day}"', html)
    assert re.search(rf'name="training-year"[^>]*value="{recorded.year}"', html)
    assert re.search(r'name="training_confirmed"[^>]*checked', html) is None
    assert f"I confirm that {web.staff.name} has read version {web.policy.label}" in html


def test_the_confirmation_panel_says_what_happens_next_and_links_the_next_request(client, web):
    second = web.new_request()
    web.sign_in(client, web.manager)
    done = client.post(f"/requests/{web.request.id}/decision", data=_form(web, client, web.request.id))
    assert done.status_code == 302
    panel = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "govuk-panel" in panel
    assert "What happens next" in panel
    assert f'href="/requests/{second.id}"' in panel

    last = client.post(f"/requests/{second.id}/decision",
                       data={"csrf_token": web.csrf(client, f"/requests/{second.id}"), "decision": "reject",
                             "reason": "Wrong team"})
    final = client.get(last.headers["Location"]).get_data(as_text=True)
    assert "No other request is waiting for your decision" in final


def _menu(html: str) -> set[str]:
    nav = html[html.index('aria-label="Main menu"'):html.index("</nav>", html.index('aria-label="Main menu"'))]
    return set(re.findall(r'class="govuk-service-navigation__link" href="([^"]+)"', nav))


ADMIN_ONLY_LINKS = {"/audit", "/users", "/catalogue"}


def test_a_manager_sees_no_admin_links_and_a_direct_visit_is_still_refused(client, web):
    web.sign_in(client, web.manager)
    menu = _menu(client.get("/").get_data(as_text=True))
    assert menu & ADMIN_ONLY_LINKS == set()
    assert "/requests" in menu
    for path in sorted(ADMIN_ONLY_LINKS):
        assert client.get(path).status_code == 403, path


@pytest.mark.parametrize("role", ["manager", "it", "auditor", "admin"])
def test_every_menu_link_opens_for_that_role(client, web, role):
    web.sign_in(client, getattr(web, role))
    menu = _menu(client.get("/").get_data(as_text=True))
    assert len(menu) >= 4
    refused = {path: client.get(path).status_code for path in menu}
    assert {path: status for path, status in refused.items() if status not in (200, 302)} == {}


def test_it_has_no_staff_or_compliance_links(client, web):
    web.sign_in(client, web.it)
    menu = _menu(client.get("/").get_data(as_text=True))
    assert {"/staff", "/compliance/", "/audit"} & menu == set()


def test_the_first_run_task_list_follows_the_database(client, web):
    web.sign_in(client, web.admin)
    html = client.get("/").get_data(as_text=True)
    assert "Set up PhoneGate" in html
    assert "You have completed 3 of 4 tasks" in html  # policy, team and manager exist; no app yet
    assert 'href="/catalogue"' in html
    db.session.add(CatalogueApp(package="com.whatsapp", version_code=1, signer_sha256="a" * 64, sha256="b" * 64,
                                size=1, role="individual", filename="x.apk", active=True))
    db.session.commit()
    assert "Set up PhoneGate" not in client.get("/").get_data(as_text=True)


def test_the_first_run_list_is_for_administrators_only(client, web):
    web.sign_in(client, web.manager)
    assert "Set up PhoneGate" not in client.get("/").get_data(as_text=True)


def test_audit_details_are_names_and_links_not_ids(client, web):
    web.sign_in(client, web.auditor)
    html = client.get("/audit?action=enrolment.").get_data(as_text=True)
    assert f">phone {web.device.serial}</a>" in html
    assert "device id:" not in html
    assert "[" not in re.sub(r"<[^>]+>", "", html[html.index("<table"):html.index("</table>")])
