"""People: users who log in (with one role each) and staff members who hold phones.

They are separate on purpose: a staff member holding a phone need not have a login, and a manager's login
is not a phone holder. Emails are personal data: never log them.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models.org import Team
from server.models.types import UTCDateTime, utcnow


class Role(str, enum.Enum):
    ADMIN = "admin"  # manages people, policies and the catalogue
    MANAGER = "manager"  # confirms enrolments for their own team
    IT = "it"  # provisions phones; can never approve
    AUDITOR = "auditor"  # reads everything, changes nothing


class User(db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'manager', 'it', 'auditor')", name="role_known"),
        CheckConstraint("role <> 'manager' OR team_id IS NOT NULL", name="manager_has_team"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))  # argon2; None = cannot log in yet
    role: Mapped[str] = mapped_column(String(16))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Second factor for password log-in (server/services/second_factor.py): the TOTP secret encrypted with a
    # key derived from the instance's secret key, and the last time step used (a code works once).
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # The council's sign-in (server/services/oidc_accounts.py): SHA-256 of issuer and subject, bound at the
    # first OpenID log-in, so a later log-in with the same e-mail but another identity is refused.
    oidc_subject_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)

    team: Mapped[Team | None] = relationship()


class StaffMember(db.Model):
    __tablename__ = "staff_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"), index=True)
    # Data Protection and Information Security mandatory training, as the paper requires before install.
    training_completed_on: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    team: Mapped[Team] = relationship()
