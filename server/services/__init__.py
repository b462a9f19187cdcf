"""Services: plain functions on a SQLAlchemy session that carry PhoneGate's rules.

They never commit. The caller (a view or a command) commits once, so a state change and its audit entry
land together or not at all; `unit_of_work()` is that pattern as a context manager.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from server.extensions import db


@contextmanager
def unit_of_work(session: Session | None = None) -> Iterator[Session]:
    """Commit on success, roll back on any exception (and re-raise it)."""
    session = session or db.session
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
