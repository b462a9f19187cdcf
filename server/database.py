"""Per-connection database set-up and the write lock that serialises hash-chain appends.

SQLite runs with WAL (readers never block the writer) and foreign keys on, on every connection: SQLite
forgets `foreign_keys` per connection, so it is set in the connect hook rather than once.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from phonegate.core.files import open_private, private_file, private_folder
from server.extensions import db


def _on_sqlite_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL: a crash loses at most the last commit
    finally:
        cursor.close()


class _NoRowValues(logging.Filter):
    """SQLAlchemy at DEBUG logs every fetched row (emails, hashes); parameters are hidden by hide_parameters."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith("Row "))


_ROW_FILTER = _NoRowValues()


def init_app(app: Flask) -> None:
    engine_logger = logging.getLogger("sqlalchemy.engine.Engine")
    if _ROW_FILTER not in engine_logger.filters:
        engine_logger.addFilter(_ROW_FILTER)
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            _private_database_files(engine.url.database)
            event.listen(engine, "connect", _on_sqlite_connect)


def _private_database_files(database: str | None) -> None:
    """Create the SQLite file 0600 before SQLite does (it would use the umask, often 0644); its -wal and -shm
    files take the database file's mode. Files from before are narrowed to 0600 too."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    private_folder(path.parent)
    os.close(open_private(path, os.O_WRONLY | os.O_CREAT))  # never truncates: an existing database stays as it is
    for suffix in ("-wal", "-shm", "-journal"):
        private_file(Path(f"{database}{suffix}"))


def lock_for_append(session: Session, key: int) -> None:
    """Hold a database-wide write lock for `key` until the current transaction ends.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: the database's single write lock (BEGIN
    IMMEDIATE when the transaction has not written yet; once it has written, it already holds it). After
    this, reads in the same transaction see every committed append, so the head cannot move under us.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        return
    if connection.dialect.name == "sqlite":
        raw = connection.connection.dbapi_connection
        if raw is not None and not raw.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def lock_row(session: Session, instance: Any) -> Any:
    """Lock `instance`'s row until the current transaction ends, and reload it from the database.

    Of two people deciding the same thing at once, the second waits here until the first transaction ends, then
    sees what the first one decided. PostgreSQL: SELECT ... FOR UPDATE. SQLite: the database's single write lock
    (BEGIN IMMEDIATE), taken before the row is read again.
    """
    mapper = sa_inspect(instance).mapper
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        raw = connection.connection.dbapi_connection
        if raw is not None and not raw.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
    key = mapper.primary_key[0]
    query = select(mapper.class_).where(key == getattr(instance, key.key)).execution_options(populate_existing=True)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalar(query)
