"""The migrations are the schema: after `db upgrade` the database matches the models exactly, on both databases.

A model change without a migration (or a migration that forgets a partial index or a CHECK) fails here.
"""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from server.extensions import db


def test_upgraded_database_matches_the_models(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == [], "models and migrations differ; create a revision with `flask db migrate`"


def test_partial_unique_indexes_exist(app):
    indexes = {index["name"]: index for index in inspect(db.engine).get_indexes("broadcast_designations")}
    assert indexes["uq_broadcast_one_active_per_service"]["unique"]
    enrolment = {index["name"]: index for index in inspect(db.engine).get_indexes("enrolment_requests")}
    assert enrolment["uq_enrolment_one_pending_per_device"]["unique"]


def test_the_migrations_have_one_head(app):
    script = ScriptDirectory(app.extensions["migrate"].directory)
    assert len(script.get_heads()) == 1, "several Alembic heads: merge them (`flask db merge heads`)"
