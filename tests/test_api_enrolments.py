"""/api/v1/enrolments: IT opens a request for a registered phone; asking again returns the open one."""

from __future__ import annotations

import pytest

from server.extensions import db
from server.models import AuditEntry, Device, EnrolmentRequest


@pytest.fixture
def it_user(factory):
    return factory.user("it")


@pytest.fixture
def headers(factory, it_user) -> dict[str, str]:
    plaintext, _ = factory.token(it_user, "provision")
    return {"Authorization": f"Bearer {plaintext}"}


def _requests() -> int:
    return db.session.scalar(db.select(db.func.count(EnrolmentRequest.id)))


def test_request_for_a_staff_member(client, headers, factory, it_user):
    staff = factory.staff()
    phone = factory.device(serial="P1")
    response = client.post("/api/v1/enrolments", json={"serial": "P1", "staff_email": staff.email.upper()},
                           headers=headers)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "pending"
    assert body["role"] == "individual"
    assert body["serial"] == "P1"
    assert body["staff_member_id"] == staff.id
    assert body["team_id"] == staff.team_id
    assert body["requested_by_id"] == it_user.id
    assert body["device_state"] == "pending_approval"
    assert db.session.get(Device, phone.id).state == "pending_approval"
    # The phone is not assigned to anyone until a manager approves.
    assert db.session.get(Device, phone.id).staff_member_id is None
    actions = list(db.session.scalars(db.select(AuditEntry.action).order_by(AuditEntry.id)))[-2:]
    assert actions == ["device.state_changed", "enrolment.requested"]

    again = client.post("/api/v1/enrolments", json={"serial": "P1", "staff_email": staff.email}, headers=headers)
    assert again.status_code == 200
    assert again.get_json()["id"] == body["id"]
    assert _requests() == 1

    read = client.get(f"/api/v1/enrolments/{body['id']}", headers=headers)
    assert read.status_code == 200
    assert read.get_json() == body
    listed = client.get("/api/v1/enrolments?status=pending&serial=P1", headers=headers)
    assert [item["id"] for item in listed.get_json()] == [body["id"]]


def test_request_for_a_broadcast_phone(client, headers, factory):
    service = factory.service("Rights and Participation")
    factory.device(serial="BC1")
    response = client.post("/api/v1/enrolments", json={"serial": "BC1", "broadcast_service": "rights and participation"},
                           headers=headers)
    assert response.status_code == 201
    body = response.get_json()
    assert body["role"] == "broadcast"
    assert body["service_id"] == service.id
    assert body["staff_member_id"] is None


def test_a_different_purpose_while_a_request_is_open_is_409(client, headers, factory):
    first, second = factory.staff(), factory.staff()
    factory.device(serial="P2")
    assert client.post("/api/v1/enrolments", json={"serial": "P2", "staff_email": first.email},
                       headers=headers).status_code == 201
    response = client.post("/api/v1/enrolments", json={"serial": "P2", "staff_email": second.email}, headers=headers)
    assert response.status_code == 409
    assert _requests() == 1


def test_a_retired_phone_cannot_be_enrolled(client, headers, factory):
    staff = factory.staff()
    factory.device(serial="OLD", state="retired")
    response = client.post("/api/v1/enrolments", json={"serial": "OLD", "staff_email": staff.email}, headers=headers)
    assert response.status_code == 409
    assert response.get_json()["error"] == "invalid_transition"
    assert _requests() == 0


@pytest.mark.parametrize(
    "body, field",
    [
        ({"serial": "P3"}, "staff_email"),
        ({"serial": "P3", "staff_email": "x@example.test", "broadcast_service": "S"}, "staff_email"),
        ({"serial": "P3", "staff_email": "nobody@example.test"}, "staff_email"),
        ({"serial": "P3", "broadcast_service": "No Such Service"}, "broadcast_service"),
        ({"serial": "P3", "staff_email": "x@example.test", "approve": True}, "approve"),
    ],
)
def test_bad_requests_are_400_and_change_nothing(client, headers, factory, body, field):
    factory.device(serial="P3")
    response = client.post("/api/v1/enrolments", json=body, headers=headers)
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["errors"]
    assert _requests() == 0
    assert db.session.scalar(db.select(Device.state).where(Device.serial == "P3")) == "registered"


def test_unknown_phone_is_404(client, headers, factory):
    staff = factory.staff()
    response = client.post("/api/v1/enrolments", json={"serial": "GHOST", "staff_email": staff.email}, headers=headers)
    assert response.status_code == 404


def test_agents_cannot_request_enrolment(client, factory):
    plaintext, _ = factory.token(factory.user("it"), "agent")
    factory.device(serial="P4")
    response = client.post("/api/v1/enrolments", json={"serial": "P4", "staff_email": factory.staff().email},
                           headers={"Authorization": f"Bearer {plaintext}"})
    assert response.status_code == 403
    assert _requests() == 0
