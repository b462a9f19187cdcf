"""The conversation review aid on the manager's pages: an uploaded export is scanned in memory, its findings shown
once (masked), and only the review record kept (counts by kind, who, outcome, follow-ups); the same upload makes a
transcript for the case record, sent back and not kept. Hostile or oversized uploads are refused cleanly."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

import pytest
from fixtures_chat import Line, write_export, zip_bomb, zip_export
from sqlalchemy import func, select

from server.extensions import db
from server.models import AuditEntry, ConversationReview, FollowUp

NHS = "943 476 5919"  # a valid check digit (the NHS's own example)
POSTCODE = "LE1 6ZG"
WHEN = datetime(2026, 3, 12, 14, 5)


def _chat(style: str = "android24") -> str:
    return write_export([
        Line(WHEN, "Sam Jones", "Hi, is the meeting still at 3?"),
        Line(WHEN + timedelta(minutes=2), "Alex Example", f"Yes. Your NHS number is {NHS} for the form"),
        Line(WHEN + timedelta(minutes=3), "Alex Example", f"and the address is {POSTCODE}"),
        Line(WHEN + timedelta(minutes=4), "Sam Jones", "Room 12, booking ref AB1234, £12.50 - see you"),
    ], style)


def _upload(web, client, content: bytes, name: str = "WhatsApp Chat with Sam Jones.txt", action: str = "scan", **extra):
    return client.post("/reviews/new", data={"csrf_token": web.csrf(client, "/reviews/new"), "action": action,
                                             "export": (io.BytesIO(content), name), **extra},
                       content_type="multipart/form-data")


def _all_text_in_the_database() -> str:
    reviews = db.session.scalars(select(ConversationReview)).all()
    audit = db.session.scalars(select(AuditEntry.details)).all()
    return " ".join([*(f"{r.counts} {r.notes}" for r in reviews), *audit])


def test_a_scan_shows_masked_findings_once_and_keeps_only_the_counts(client, web):
    web.sign_in(client, web.manager)
    answer = _upload(web, client, _chat().encode(), staff_id=str(web.staff.id))
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "2 possible items of personal data in 4 messages" in html
    assert "NHS number" in html
    assert NHS not in html  # masked, even on the result page
    assert "9•• ••• •••9" in html
    review = db.session.scalar(select(ConversationReview))
    assert (review.messages, review.findings) == (4, 2)
    assert review.staff_member_id == web.staff.id
    kept = _all_text_in_the_database()
    assert NHS.replace(" ", "") not in kept.replace(" ", "")
    assert POSTCODE not in kept
    assert "Sam Jones" not in kept
    assert '"nhs_number":1' in review.counts.replace(" ", "")


def test_an_ios_zip_export_is_read_too(client, web, tmp_path):
    web.sign_in(client, web.manager)
    archive = zip_export(tmp_path / "export.zip", _chat("ios"), style="ios")
    answer = _upload(web, client, archive.read_bytes(), name="WhatsApp Chat - Sam Jones.zip")
    assert answer.status_code == 200
    assert db.session.scalar(select(ConversationReview)).findings == 2


def test_the_outcome_is_recorded_once_with_follow_ups(client, web):
    web.sign_in(client, web.manager)
    _upload(web, client, _chat().encode())
    review = db.session.scalar(select(ConversationReview))
    due = date.today() + timedelta(days=7)
    form = {"csrf_token": web.csrf(client, f"/reviews/{review.id}"), "outcome": "discussed_with_staff",
            "notes": "Talked it through", "follow_up-0-action": "Refresher on what not to send",
            "follow_up-0-due-day": str(due.day), "follow_up-0-due-month": str(due.month),
            "follow_up-0-due-year": str(due.year)}
    assert client.post(f"/reviews/{review.id}/outcome", data=form).status_code == 302
    again = client.post(f"/reviews/{review.id}/outcome", data=form)
    assert again.status_code == 409
    assert "already recorded" in again.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(FollowUp)) == 1
    assert db.session.get(ConversationReview, review.id).outcome == "discussed_with_staff"


def test_discussed_needs_a_follow_up(client, web):
    web.sign_in(client, web.manager)
    _upload(web, client, _chat().encode())
    review = db.session.scalar(select(ConversationReview))
    answer = client.post(f"/reviews/{review.id}/outcome", data={
        "csrf_token": web.csrf(client, f"/reviews/{review.id}"), "outcome": "discussed_with_staff"})
    assert answer.status_code == 400
    assert "at least one follow-up" in answer.get_data(as_text=True)


@pytest.mark.parametrize("action, start", [("text", b"Transcript of a WhatsApp chat export"), ("pdf", b"%PDF")])
def test_the_same_upload_makes_a_transcript_that_is_not_kept(client, web, action, start):
    web.sign_in(client, web.manager)
    answer = _upload(web, client, _chat().encode(), action=action)
    assert answer.status_code == 200
    assert answer.data.startswith(start)
    assert answer.headers["Content-Disposition"].startswith("attachment;")
    assert answer.headers["Cache-Control"] == "no-store"
    assert db.session.scalar(select(func.count()).select_from(ConversationReview)) == 0
    made = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "conversation.transcript_made"))
    assert made.actor_user_id == web.manager.id
    if action == "text":
        assert f"Alex Example: Yes. Your NHS number is {NHS}".encode() in answer.data  # the record needs the words


@pytest.mark.parametrize("content, message", [
    (b"", "Choose the chat export file"),
    (b"just some notes\nnothing like a chat\n", "not a WhatsApp chat export"),
])
def test_files_that_are_not_exports_are_refused(client, web, content, message):
    web.sign_in(client, web.manager)
    answer = _upload(web, client, content, name="notes.txt") if content else client.post(
        "/reviews/new", data={"csrf_token": web.csrf(client, "/reviews/new"), "action": "scan"})
    assert answer.status_code == 400
    assert message in answer.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(ConversationReview)) == 0


def test_a_zip_bomb_is_refused_without_inflating_it(client, web, tmp_path):
    web.sign_in(client, web.manager)
    bomb = zip_bomb(tmp_path / "bomb.zip", 40)  # under the size limit, but 1,000:1
    answer = _upload(web, client, bomb.read_bytes(), name="WhatsApp Chat with X.zip")
    assert answer.status_code == 400
    assert "zip bomb" in answer.get_data(as_text=True)


def test_an_upload_over_the_limit_is_413_with_what_to_do(client, web, monkeypatch):
    import server.web.uploads as uploads

    web.sign_in(client, web.manager)
    token = web.csrf(client, "/reviews/new")
    monkeypatch.setattr(uploads, "UPLOAD_MAX_BYTES", 10_000)
    answer = client.post("/reviews/new", data={"csrf_token": token, "export": (io.BytesIO(b"x" * 20_000), "big.txt")},
                         content_type="multipart/form-data")
    assert answer.status_code == 413
    assert "Without media" in answer.get_data(as_text=True)


@pytest.mark.parametrize("role", ["it", "auditor", "admin"])
def test_only_managers_review_and_a_refusal_is_audited(client, web, role):
    web.sign_in(client, getattr(web, role))
    assert client.get("/reviews/new").status_code == 403
    answer = _upload(web, client, _chat().encode())
    assert answer.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(ConversationReview)) == 0
    refused = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "conversation.review_refused"))
    assert refused.actor_user_id == getattr(web, role).id


def test_reviews_are_seen_by_their_team_and_by_governance(client, web):
    web.sign_in(client, web.manager)
    _upload(web, client, _chat().encode())
    review = db.session.scalar(select(ConversationReview))
    web.sign_in(client, web.other_manager)
    assert client.get(f"/reviews/{review.id}").status_code == 404
    assert "2 in 4 messages" not in client.get("/reviews").get_data(as_text=True)
    web.sign_in(client, web.auditor)
    assert client.get(f"/reviews/{review.id}").status_code == 200
    assert "2 in 4 messages" in client.get("/reviews").get_data(as_text=True)


def test_uploads_under_reviews_stay_in_memory_and_others_do_not(app):
    """Werkzeug spools an upload over 500 KB to a temporary file; a chat export must never reach the disk."""
    body = io.BytesIO()
    boundary = "pgboundary"
    body.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"export\"; filename=\"a.txt\"\r\n"
               "Content-Type: text/plain\r\n\r\n".encode())
    body.write(b"x" * 600_000)
    body.write(f"\r\n--{boundary}--\r\n".encode())
    data = body.getvalue()
    for path, in_memory in (("/reviews/new", True), ("/catalogue", False)):
        with app.test_request_context(path, method="POST", data=data,
                                      content_type=f"multipart/form-data; boundary={boundary}"):
            from flask import request

            assert isinstance(request.files["export"].stream, io.BytesIO) is in_memory, path
