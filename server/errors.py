"""The one error handler: JSON for API clients, a page for browsers.

JSON shape (INTERFACE.md): {"code": 400, "status": "Bad Request", "message": "...", "errors": {field: [msg]}},
plus "error": a stable word for programs ("invalid_input", "policy_refused", "not_found", ...).
A request gets JSON when its path is under /api/ or it prefers application/json over text/html.
Nothing personal is logged: unexpected errors log their type and traceback, never their message (a database
error's message can carry the row's values).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from jinja2 import TemplateNotFound
from markupsafe import escape
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from server.extensions import db
from server.services.errors import ServiceError

log = logging.getLogger("phonegate.core.errors")

_WORDS = {400: "invalid_input", 401: "unauthorised", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "invalid_input",
          429: "too_many_requests", 500: "internal_error"}


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """webargs/marshmallow messages ({"json": {"a": {"0": {"b": ["x"]}}}}) -> {"a.0.b": ["x"]}."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            if not prefix and key in {"json", "query", "form", "files", "headers", "view_args", "path"}:
                name = ""  # the location is not a field
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            for field, msgs in flatten_messages(value, name).items():
                flat.setdefault(field, []).extend(msgs)
    elif isinstance(messages, (list, tuple)):
        if all(isinstance(item, str) for item in messages):
            flat[prefix or "_schema"] = list(messages)
        else:
            for item in messages:
                for field, msgs in flatten_messages(item, prefix).items():
                    flat.setdefault(field, []).extend(msgs)
    elif messages is not None:
        flat[prefix or "_schema"] = [str(messages)]
    return flat


def error_response(status: int, message: str, errors: dict[str, list[str]] | None = None, word: str | None = None,
                   headers: Mapping[str, str] | None = None) -> Response | tuple[Any, int]:
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    if wants_json():
        body = {"code": status, "status": phrase, "message": message, "errors": errors or {},
                "error": word or _WORDS.get(status, "error")}
        response = jsonify(body)
        response.status_code = status
    else:
        try:
            html = render_template("error.html", status=status, phrase=phrase, message=message, errors=errors or {})
        except TemplateNotFound:
            html = (f"<!doctype html><html lang='en'><title>{status} {escape(phrase)} - PhoneGate</title>"
                    f"<h1>{escape(phrase)}</h1><p>{escape(message)}</p></html>")
        response = Response(html, status=status, mimetype="text/html")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _handle_service_error(error: ServiceError):
    db.session.rollback()  # a refused change must leave nothing half-done behind
    return error_response(error.http_status, error.message, error.errors, error.code)


def _handle_http_exception(error: HTTPException):
    data = getattr(error, "data", None) or {}
    status = error.code or 500
    errors = flatten_messages(data["messages"]) if "messages" in data else {}
    message = data.get("message") or error.description or HTTPStatus(status).phrase
    if errors and status == 422:
        status = 400  # our contract: bad input is 400 whatever raised it
    if errors and message == error.description:
        message = "The request has invalid fields: " + ", ".join(sorted(errors)) + "."
    headers = dict(data.get("headers") or {})
    for name, value in error.get_headers():  # e.g. Allow on a 405, which RFC 9110 requires
        if name.lower() != "content-type":
            headers.setdefault(name, value)
    if status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="phonegate"')
    return error_response(status, message, errors, headers=headers)


def _handle_integrity_error(error: IntegrityError):
    # A rule the database enforces fired after the service's own checks (usually a race): refuse cleanly.
    db.session.rollback()
    log.warning("database refused a change: %s", type(error.orig).__name__)
    return error_response(409, "That change conflicts with the current data; reload and try again.", word="conflict")


def _handle_unexpected(error: Exception):
    db.session.rollback()
    log.error("unexpected %s on %s %s\n%s", type(error).__name__, request.method, request.path,
              "".join(traceback.format_tb(error.__traceback__)))
    return error_response(500, "Something went wrong on the server; the change was not made.")


def init_app(app: Flask) -> None:
    app.register_error_handler(ServiceError, _handle_service_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(IntegrityError, _handle_integrity_error)
    if not app.testing:
        # In tests an unexpected error should surface as the exception itself, with its traceback.
        app.register_error_handler(Exception, _handle_unexpected)
