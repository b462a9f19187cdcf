"""Shared API pieces: the Blueprint every resource uses, the input and response base schemas, the error schema,
and a pager that pages a SQLAlchemy select in the database.

A new endpoint inherits all of this by being in a `server.api.common.Blueprint` (init_app refuses any other) with
input schemas derived from `StrictSchema` (which allows only the fields of server/api/fields.py, so no input can
reach the database unchecked) and `@token_required(...)` from server/api/auth.py somewhere in its decorators.
"""

from __future__ import annotations

from typing import Any

import flask_smorest
import marshmallow as ma
from flask_smorest import Page
from sqlalchemy import Select, func, select
from webargs import core as webargs_core
from webargs.flaskparser import FlaskParser, is_json_request

from server.api import fields
from server.extensions import db
from server.request_guard import MAX_PAGE, json_body

MAX_PAGE_SIZE = 200
PAGINATION_HEADER_DOC = {
    "description": "Pagination metadata, as JSON text (not a comma-separated list): "
                   '{"total", "total_pages", "first_page", "last_page", "page", "previous_page", "next_page"}.',
    # flask_smorest registers PaginationMetadataSchema under this name.
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PaginationMetadata"}}},
}

# What an input field may be: the checked fields, and the types that cannot carry free text.
_ALLOWED_INPUT_FIELDS = (fields.Identifier, fields.Text, fields.Document, fields.Int64, fields.Facts, ma.fields.Boolean,
                         ma.fields.Date, ma.fields.DateTime, ma.fields.UUID, ma.fields.Nested, ma.fields.List)


class StrictSchema(ma.Schema):
    """Base of every input schema: unknown fields are refused (a typo is an error, not a silent no-op), and each
    field must be one of server/api/fields.py's (or a type that cannot hold text), or a String limited to a list
    of choices: a plain Integer or String would let a 64-bit overflow or a control character through."""

    class Meta:
        unknown = ma.RAISE

    def on_bind_field(self, field_name: str, field_obj: ma.fields.Field) -> None:
        _check_input_field(type(self).__name__, field_name, field_obj)


def _check_input_field(schema: str, name: str, field: ma.fields.Field) -> None:
    if isinstance(field, ma.fields.List):
        _check_input_field(schema, name, field.inner)
        return
    if isinstance(field, ma.fields.Nested):
        if not isinstance(field.schema, StrictSchema):
            raise TypeError(f"{schema}.{name}: a nested input schema must derive from StrictSchema")
        return
    if isinstance(field, _ALLOWED_INPUT_FIELDS):
        return
    if type(field) is ma.fields.String and any(isinstance(v, ma.validate.OneOf) for v in field.validators):
        return
    raise TypeError(f"{schema}.{name}: input fields must come from server/api/fields.py "
                    f"(Identifier, Text, Document, Int64, Id, Facts), not {type(field).__name__}")


class ResponseSchema(ma.Schema):
    """Base of response schemas: documented with additionalProperties false, so what is sent is all there is."""

    class Meta:
        unknown = ma.RAISE


class ErrorSchema(ResponseSchema):
    """Every error the server sends (server/errors.py builds it; this documents it)."""

    code = ma.fields.Integer(required=True, metadata={"description": "The HTTP status code."})
    status = ma.fields.String(required=True, metadata={"description": "The HTTP status phrase."})
    message = ma.fields.String(required=True, metadata={"description": "One sentence a person can act on."})
    errors = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()), required=True,
                            metadata={"description": "Messages per field name (dotted for nested fields)."})
    error = ma.fields.String(required=True, metadata={"description": "A stable word for programs: invalid_input, "
                                                                      "unauthorised, forbidden, not_found, conflict, ..."})


class ArgumentsParser(FlaskParser):
    """webargs' parser, reading a JSON body from server.request_guard (parsed once, under its limits)."""

    DEFAULT_VALIDATION_STATUS = 400  # bad input is 400 everywhere in PhoneGate (webargs would say 422)

    def _raw_load_json(self, req: Any) -> Any:
        if not is_json_request(req):
            return webargs_core.missing
        body = json_body()
        return webargs_core.missing if body is None else body


class Blueprint(flask_smorest.Blueprint):
    """flask_smorest's Blueprint with PhoneGate's argument parser, page numbers the database can reach, and the
    X-Pagination header documented as the JSON text it is."""

    ARGUMENTS_PARSER = ArgumentsParser()
    PAGINATION_ARGUMENTS_PARSER = ArgumentsParser()

    def paginate(self, pager=None, *, page=None, page_size=None, max_page_size=None):
        decorate = super().paginate(pager, page=page, page_size=page_size, max_page_size=max_page_size)

        def decorator(view):
            wrapper = decorate(view)
            schema = wrapper._apidoc["pagination"]["parameters"]["schema"]
            # smorest's page field has only a minimum; OFFSET of a 2^63 page overflows the database's integers.
            page_field = schema._declared_fields["page"]
            if not any(isinstance(v, ma.validate.Range) and v.max == MAX_PAGE for v in page_field.validators):
                page_field.validators.append(ma.validate.Range(min=1, max=MAX_PAGE))
            return wrapper

        return decorator

    def _document_pagination_metadata(self, spec, resp_doc):
        resp_doc.setdefault("headers", {})[self.PAGINATION_HEADER_NAME] = PAGINATION_HEADER_DOC


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
