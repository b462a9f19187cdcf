"""Follow-up actions agreed at a spot check or a conversation review, each due by a date.

Each belongs to exactly one of the two (a CHECK constraint) and to the team (or, for a Broadcast phone, the
service) whose manager must see it done; open ones past their date are listed on the dashboard.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models.org import Team
from server.models.people import User
from server.models.types import UTCDateTime, utcnow

ACTION_MAX = 500


class FollowUp(db.Model):
    """One agreed action."""

    __tablename__ = "follow_ups"
    __table_args__ = (
        CheckConstraint("(spot_check_id IS NULL) <> (review_id IS NULL)", name="one_origin"),
        CheckConstraint("(done_at IS NULL) = (done_by_id IS NULL)", name="done_has_who"),
        Index("ix_follow_ups_open_due", "due_on", sqlite_where=text("done_at IS NULL"),
              postgresql_where=text("done_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    spot_check_id: Mapped[int | None] = mapped_column(ForeignKey("spot_checks.id", ondelete="CASCADE"), index=True)
    review_id: Mapped[int | None] = mapped_column(ForeignKey("conversation_reviews.id", ondelete="CASCADE"), index=True)
    # Whose follow-up it is: the team (an individual phone) or the service (its Broadcast phone).
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"), index=True)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id", ondelete="RESTRICT"))
    action: Mapped[str] = mapped_column(String(500))
    due_on: Mapped[date] = mapped_column(Date)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))

    team: Mapped[Team | None] = relationship()
    done_by: Mapped[User | None] = relationship(foreign_keys=[done_by_id])

    def overdue_on(self, today: date) -> bool:
        return self.done_at is None and self.due_on < today
