"""The session cookie: a random id for people who are signed in, a signed cookie for visitors who are not.

Signed in, the cookie carries only a random id (`pgs.` and 256 bits); who it belongs to, when it started and
what it holds (the CSRF secret, one-off messages) are in the web_sessions table (server/services/web_sessions.py),
so ending the record ends the session wherever its cookie was copied to. Before logging in, a visitor's session
(the CSRF secret of the log-in form, the OpenID state, a half-done second factor) is Flask's signed cookie: it
grants nothing, and keeping it off the server means nobody can fill the table by loading the log-in page.

The cookie's Secure flag: PHONEGATE_SECURE_COOKIES=1 (or 0) settles it. Left unset ("auto"), the cookie is
Secure on every request except plain HTTP to a loopback host (127.0.0.0/8, ::1, localhost): that is `make run`
on a developer's machine, where no TLS exists and nothing leaves the computer. A deployment behind a TLS proxy
sets PHONEGATE_TRUST_PROXY so the proxy's X-Forwarded-Proto counts, or PHONEGATE_SECURE_COOKIES=1.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any

from flask import Flask, Request, Response, has_request_context, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from server.extensions import db
from server.models import WebSession
from server.services import web_sessions


def is_loopback_host(host: str) -> bool:
    name = host.strip().lower()
    if name.startswith("["):  # [::1]:5000
        name = name[1 : name.find("]")] if "]" in name else name[1:]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class CouncilSession(SecureCookieSession):
    """Flask's session dict, plus which server-side session (if any) it is."""

    def __init__(self, initial: Any = None) -> None:
        super().__init__(initial)
        self.session_id: str | None = None  # the cookie's value when signed in
        self.record_id: int | None = None
        self.user_id: int | None = None
        self.expires_at: datetime | None = None
        self.issued = False  # a new id that the response must set

    def signed_in(self, session_id: str, record: WebSession, expires_at: datetime) -> None:
        self.clear()
        self.session_id, self.record_id, self.user_id = session_id, record.id, record.user_id
        self.expires_at = expires_at
        self.issued = True
        self.modified = True

    def signed_out(self) -> None:
        self.clear()
        self.session_id = self.record_id = self.user_id = self.expires_at = None
        self.issued = False
        self.modified = True


class CouncilSessionInterface(SecureCookieSessionInterface):
    session_class = CouncilSession

    def get_cookie_secure(self, app: Flask) -> bool:
        configured = app.config.get("SESSION_COOKIE_SECURE")
        if configured is not None:
            return bool(configured)
        if not has_request_context():
            return True
        return request.is_secure or not is_loopback_host(request.host)

    def open_session(self, app: Flask, request: Request) -> CouncilSession | None:
        value = request.cookies.get(self.get_cookie_name(app), "")
        if not value.startswith(web_sessions.ID_PREFIX):
            return super().open_session(app, request)  # type: ignore[return-value]
        limits = web_sessions.Limits.from_settings(app.config["PHONEGATE"])
        record = web_sessions.resume(db.session, value, limits)
        if record is None:
            db.session.commit()  # an end found just now (idle, expired) is recorded
            stale = self.session_class()
            stale.modified = True  # an empty, modified session: the response deletes the cookie
            return stale
        session = self.session_class(self.serializer.loads(record.data or "{}"))
        session.session_id, session.record_id, session.user_id = value, record.id, record.user_id
        session.expires_at = record.created_at + limits.absolute
        db.session.commit()  # last_seen, when it was due for rewriting
        return session

    def save_session(self, app: Flask, session: CouncilSession, response: Response) -> None:  # type: ignore[override]
        if session.session_id is None:
            super().save_session(app, session, response)
            return
        response.vary.add("Cookie")
        if session.modified:
            # The request is over: whatever it left uncommitted would be rolled back at teardown anyway.
            db.session.rollback()
            web_sessions.save_data(db.session, session.record_id, self.serializer.dumps(dict(session)))
            db.session.commit()
        if session.issued:
            response.set_cookie(
                self.get_cookie_name(app), session.session_id, expires=session.expires_at,
                httponly=self.get_cookie_httponly(app), domain=self.get_cookie_domain(app),
                path=self.get_cookie_path(app), secure=self.get_cookie_secure(app),
                samesite=self.get_cookie_samesite(app), partitioned=self.get_cookie_partitioned(app),
            )
