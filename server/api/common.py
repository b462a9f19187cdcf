"""Shared API pieces: the strict base schema, and a pager that pages a SQLAlchemy select in the database."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_smorest import Page
from sqlalchemy import Select, func, select

from server.extensions import db

MAX_PAGE_SIZE = 200


class StrictSchema(ma.Schema):
    """Input schemas refuse fields they do not know, so a typo is an error and not a silent no-op."""

    class Meta:
        unknown = ma.RAISE


class Trimmed(ma.fields.String):
    """A string with surrounding whitespace removed; empty after trimming counts as missing."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        text = super()._deserialize(value, attr, data, **kwargs)
        text = text.strip()
        if not text:
            if self.required:
                raise ma.ValidationError("Must not be empty.")
            return None
        return text


class SelectPage(Page):
    """Pages a `select(...)` with COUNT + OFFSET/LIMIT instead of loading every row."""

    @property
    def item_count(self) -> int:
        query: Select = self.collection
        return db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0

    @property
    def items(self) -> list[Any]:
        query: Select = self.collection
        return list(db.session.scalars(query.offset(self.page_params.first_item).limit(self.page_params.page_size)))
