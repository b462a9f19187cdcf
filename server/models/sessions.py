"""Web sessions kept on the server: the browser's cookie holds only a random id, this table says what it opens.

Only the SHA-256 of the id is stored (like API tokens: a 256-bit random value needs no slow hash), so the
table cannot be used to take over a session. Ending a session sets `ended_at`; the row is kept a day for the
record and then pruned. `data` is the session's own dict (the CSRF secret, one-off messages), serialised.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models.people import User
from server.models.types import UTCDateTime, utcnow


class WebSession(db.Model):
    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(String(16))  # how the person signed in: "password" or "oidc"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    end_reason: Mapped[str | None] = mapped_column(String(32))  # logged_out, password_changed, idle, ...
    data: Mapped[str] = mapped_column(Text, default="{}")

    user: Mapped[User] = relationship()
