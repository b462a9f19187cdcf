"""The app catalogue, single-use install grants, and the installations that consume them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models.devices import Device
from server.models.types import UTCDateTime, utcnow


class CatalogueApp(db.Model):
    """An approved app kept in the instance folder, verified before it was accepted: one APK, or an APK set (a base
    and its splits, verified as one). `sha256` is the entry's identity (phonegate.core.apk.apk_set.set_sha256: a
    single APK's own file SHA-256; a set's digest over its files in set order), `size` all its files together, and
    `files` the files themselves, base first; `filename` is the base APK's file."""

    __tablename__ = "catalogue_apps"
    __table_args__ = (CheckConstraint("role IN ('individual', 'broadcast')", name="role_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    package: Mapped[str] = mapped_column(String(255), index=True)
    version_code: Mapped[int] = mapped_column(BigInteger)
    version_name: Mapped[str | None] = mapped_column(String(128))
    min_sdk: Mapped[int | None] = mapped_column(Integer)
    signer_sha256: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)  # the entry's identity (see above)
    size: Mapped[int] = mapped_column(BigInteger)
    role: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(255))  # relative to the instance folder's catalogue/
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    files: Mapped[list[CatalogueAppFile]] = relationship(order_by="CatalogueAppFile.position", lazy="selectin",
                                                          cascade="all, delete-orphan", back_populates="app")


class CatalogueAppFile(db.Model):
    """One file of a catalogue entry: its base APK (position 0) or a split. Stored content-addressed in the
    catalogue folder as <sha256>.apk, so a file shared by two entries is kept once."""

    __tablename__ = "catalogue_app_files"
    # one base per entry follows from the unique name (only the base is called base.apk)
    __table_args__ = (UniqueConstraint("catalogue_app_id", "position", name="uq_catalogue_app_files_position"),
                      UniqueConstraint("catalogue_app_id", "name", name="uq_catalogue_app_files_name"))

    id: Mapped[int] = mapped_column(primary_key=True)
    catalogue_app_id: Mapped[int] = mapped_column(ForeignKey("catalogue_apps.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # set order: the base 0, then the splits by split name
    name: Mapped[str] = mapped_column(String(255))  # base.apk or split_<split name>.apk, as Android names it
    split_name: Mapped[str | None] = mapped_column(String(255))  # None for the base
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str] = mapped_column(String(255))  # relative to the instance folder's catalogue/

    app: Mapped[CatalogueApp] = relationship(back_populates="files")


class InstallGrant(db.Model):
    """Permission to install one catalogue APK (by sha256) on one approved phone, once.

    The secret handed to the client is stored only as its SHA-256. "Used at most once" is enforced by the
    unique grant_id on Installation: a second report of the same grant cannot be inserted.
    """

    __tablename__ = "install_grants"

    id: Mapped[int] = mapped_column(primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="RESTRICT"), index=True)
    catalogue_app_id: Mapped[int] = mapped_column(ForeignKey("catalogue_apps.id", ondelete="RESTRICT"))
    apk_sha256: Mapped[str] = mapped_column(String(64))
    issued_to_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    device: Mapped[Device] = relationship()
    catalogue_app: Mapped[CatalogueApp] = relationship()


class Installation(db.Model):
    """A confirmed install of an approved app on a phone (what the phone reported after installing)."""

    __tablename__ = "installations"

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("install_grants.id", ondelete="RESTRICT"), unique=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="RESTRICT"), index=True)
    package: Mapped[str] = mapped_column(String(255))
    version_code: Mapped[int] = mapped_column(BigInteger)
    signer_sha256: Mapped[str] = mapped_column(String(64))
    installed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reported_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))

    grant: Mapped[InstallGrant] = relationship()
