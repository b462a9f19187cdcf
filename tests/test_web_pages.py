"""The other pages: policy publishing and who must re-confirm, catalogue upload, staff and users, the phone list
and timeline, and the layout's assets (Broadcast designation and handover: test_web_broadcast_handover.py)."""

from __future__ import annotations

import io
from datetime import date, timedelta

from sqlalchemy import select

from server.extensions import db
from server.models import AuditEntry, CatalogueApp, PolicyVersion, StaffMember, User
from server.services.actor import Actor
from server.services.decisions import approve_enrolment


def _approve(web, request=None) -> None:
    approve_enrolment(db.session, request or web.request, Actor.for_user(web.manager), policy_sha256=web.policy.sha256,
                      acknowledged=True, training_completed_on=date.today() - timedelta(days=3))
    db.session.commit()


def test_admin_publishes_a_policy_and_managers_see_who_must_reconfirm(client, app, web):
    _approve(web)
    web.sign_in(client, web.admin)
    token = web.csrf(client, "/policies/new")
    empty = client.post("/policies/new", data={"label": "", "text": "", "csrf_token": token})
    assert empty.status_code == 400
    assert 'href="#label"' in empty.get_data(as_text=True)
    text = "# WhatsApp acceptable use\n\nUse it for work only. <script>alert(1)</script>\n\n* No sensitive data\n"
    response = client.post("/policies/new", data={"label": "2026-11", "text": text, "csrf_token": token})
    assert response.status_code == 302
    version = db.session.scalar(select(PolicyVersion).where(PolicyVersion.label == "2026-11"))
    assert version.published_by_id == web.admin.id
    duplicate = client.post("/policies/new", data={"label": "2026-11", "text": "other", "csrf_token": token})
    assert duplicate.status_code == 409
    assert "already exists" in duplicate.get_data(as_text=True)

    shown = client.get(f"/policies/{version.id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown
    assert "<script>alert" not in shown
    assert '<ul class="govuk-list govuk-list--bullet">' in shown

    client.post("/logout", data={"csrf_token": web.csrf(client)})
    web.sign_in(client, web.manager)
    policies = client.get("/policies").get_data(as_text=True)
    assert "Re-acknowledgement due" in policies
    assert web.device.serial in policies
    dashboard = client.get("/").get_data(as_text=True)
    assert 'id="reack-count">1<' in dashboard
    phone = client.get(f"/devices/{web.device.id}").get_data(as_text=True)
    assert "Re-acknowledgement due: this phone was approved against policy version 2026-01" in phone


def test_dashboard_counts_pending_requests_for_my_team_only(client, web, factory):
    web.new_request()
    web.sign_in(client, web.manager)
    assert 'id="pending-count">2<' in client.get("/").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": web.csrf(client)})
    web.sign_in(client, web.other_manager)
    assert 'id="pending-count">0<' in client.get("/").get_data(as_text=True)


def test_catalogue_upload_is_verified_by_the_service(client, pinned_app, web, test_apks):
    web.sign_in(client, web.admin)
    token = web.csrf(client, "/catalogue")
    garbage = client.post("/catalogue", data={"role": "individual", "csrf_token": token,
                                              "apk": (io.BytesIO(b"not an apk"), "whatsapp.apk")},
                          content_type="multipart/form-data")
    assert garbage.status_code == 400
    assert "The APK was not accepted: whatsapp.apk is not an APK file" in garbage.get_data(as_text=True)
    wrong = client.post("/catalogue", data={"role": "individual", "csrf_token": token,
                                            "apk": (test_apks.wrong_signer.open("rb"), "whatsapp.apk")},
                        content_type="multipart/form-data")
    assert wrong.status_code == 403
    assert "not pinned" in wrong.get_data(as_text=True)
    assert db.session.scalar(select(CatalogueApp)) is None

    good = client.post("/catalogue", data={"role": "individual", "csrf_token": token,
                                           "apk": (test_apks.whatsapp.open("rb"), "whatsapp.apk")},
                       content_type="multipart/form-data")
    assert good.status_code == 302
    app_row = db.session.scalar(select(CatalogueApp))
    assert app_row.package == "com.whatsapp"
    assert app_row.added_by_id == web.admin.id
    assert "2.24.22.5" in client.get("/catalogue").get_data(as_text=True)
    no_file = client.post("/catalogue", data={"role": "individual", "csrf_token": token},
                          content_type="multipart/form-data")
    assert no_file.status_code == 400
    assert 'href="#apk"' in no_file.get_data(as_text=True)


def test_admin_adds_staff_and_a_user_who_must_change_the_one_time_password(client, web):
    web.sign_in(client, web.admin)
    token = web.csrf(client, "/staff/new")
    bad = client.post("/staff/new", data={"name": "Sam Doe", "email": "sam@example.test", "team": str(web.team.id),
                                          "training-day": "40", "training-month": "1", "training-year": "2026",
                                          "csrf_token": token})
    assert bad.status_code == 400
    assert "must be a real date" in bad.get_data(as_text=True)
    added = client.post("/staff/new", data={"name": "Sam Doe", "email": "sam@example.test", "team": str(web.team.id),
                                            "training-day": "2", "training-month": "3", "training-year": "2026",
                                            "csrf_token": token})
    assert added.status_code == 200
    assert "Staff member added" in added.get_data(as_text=True)
    staff = db.session.scalar(select(StaffMember).where(StaffMember.email == "sam@example.test"))
    assert staff.training_completed_on == date(2026, 3, 2)

    created = client.post("/users/new", data={"email": "newmanager@example.test", "role": "manager",
                                              "team": str(web.team.id), "csrf_token": token})
    html = created.get_data(as_text=True)
    assert created.status_code == 200
    assert "One-time password" in html
    user = db.session.scalar(select(User).where(User.email == "newmanager@example.test"))
    assert user.must_change_password
    assert user.role == "manager"
    no_team = client.post("/users/new", data={"email": "m2@example.test", "role": "manager", "csrf_token": token})
    assert no_team.status_code == 400
    assert 'href="#team"' in no_team.get_data(as_text=True)


def test_staff_page_shows_training_and_acknowledgement(client, web, factory):
    factory.staff(team=web.team, training=date.today() - timedelta(days=500), name="Old Training")
    _approve(web)
    web.sign_in(client, web.manager)
    html = client.get("/staff").get_data(as_text=True)
    assert "Out of date" in html
    assert "Acknowledged" in html
    assert "Not acknowledged" in html


def test_device_list_filters_paginates_and_device_page_shows_timeline(client, web, factory):
    for n in range(30):
        factory.device(serial=f"BULK{n:03d}", state="approved", team=web.team)
    web.sign_in(client, web.auditor)
    first = client.get("/devices").get_data(as_text=True)
    assert "31 phones" in first
    assert 'rel="next"' in first
    assert "BULK025" in client.get("/devices?page=2").get_data(as_text=True)
    filtered = client.get("/devices?state=pending_approval").get_data(as_text=True)
    assert "1 phone " in filtered
    assert web.device.serial in filtered
    assert "BULK001" not in filtered
    by_team = client.get(f"/devices?team={web.other_team.id}").get_data(as_text=True)
    assert "No phones match these filters" in by_team
    ignored = client.get("/devices?state=<script>&team=abc")
    assert ignored.status_code == 200
    assert "<script>" not in ignored.get_data(as_text=True).split("<main", 1)[1]

    _approve(web)
    timeline = client.get(f"/devices/{web.device.id}").get_data(as_text=True)
    for action in ("device: registered", "enrolment: requested", "device: state changed", "enrolment: approved"):
        assert action in timeline, action


def test_layout_serves_council_styles_without_crown_or_gds_font(client, web):
    css = client.get("/assets/govuk-frontend.min.css")
    assert css.status_code == 200
    assert css.mimetype == "text/css"
    text = css.get_data(as_text=True)
    assert "GDS Transport" not in text
    assert "@font-face" not in text
    assert "system-ui" in text
    for path in ("/assets/govuk-frontend.min.js", "/assets/init.mjs", "/assets/phonegate.css"):
        with client.get(path) as response:  # file responses: close them
            assert response.status_code == 200, path
    assert client.get("/assets/images/govuk-crest.svg").status_code == 404
    assert client.get("/assets/fonts/bold-b542beb274-v2.woff2").status_code == 404
    page = client.get("/login")
    html = page.get_data(as_text=True)
    assert "PhoneGate — Leicester City Council" in html
    assert "govuk-header__logo" not in html
    assert "crown" not in html.lower()
    assert "nonce-" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"


def test_audit_log_page_for_auditors_with_filters_and_chain_check(client, web):
    web.sign_in(client, web.auditor)
    page = client.get("/audit?action=enrolment.")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "enrolment.requested" in html
    assert "user.added" not in html
    assert f'href="/requests/{web.request.id}"' in html
    assert web.staff.email not in html  # entries name ids, not people (actors are shown by login email)
    checked = client.post("/audit", data={"csrf_token": web.csrf(client, "/audit")})
    assert "Audit log intact" in checked.get_data(as_text=True)


    entry = db.session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()))
    entry.details = '{"tampered":true}'
    db.session.commit()
    broken = client.post("/audit", data={"csrf_token": web.csrf(client, "/audit")}).get_data(as_text=True)
    assert "The audit log has been tampered with" in broken
    assert f"Audit entry {entry.id} is broken" in broken

    for role in ("manager", "it"):
        web.sign_in(client, getattr(web, role))
        assert client.get("/audit").status_code == 403
