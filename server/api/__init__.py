"""The JSON API at /api/v1: one flask_smorest Blueprint per resource module, each exposing `blp`.

To add a resource: write server/api/<name>.py with `blp = Blueprint(...)` and add its module path to RESOURCES.
The OpenAPI document (/api/v1/openapi.json) is built from the same marshmallow schemas that validate requests.
"""

from __future__ import annotations

import importlib

from flask import Flask
from flask_smorest import Blueprint

from server.extensions import api, csrf

# Bad input is 400 everywhere in PhoneGate (webargs would say 422). Set on the shared parser before any
# resource module is imported, because @blp.arguments reads it when it decorates.
Blueprint.ARGUMENTS_PARSER.DEFAULT_VALIDATION_STATUS = 400

RESOURCES: tuple[str, ...] = (
    "server.api.devices",
    "server.api.enrolments",
    "server.api.policies",
    "server.api.catalogue",
    "server.api.grants",
    "server.api.installations",
    "server.api.compliance",
    "server.api.spot_checks",
)

BEARER_SCHEME = {"type": "http", "scheme": "bearer", "description": "An API token from `phonegate token create`."}


def init_app(app: Flask) -> None:
    api.init_app(app)
    api.spec.components.security_scheme("bearerAuth", BEARER_SCHEME)
    for module_name in RESOURCES:
        blp = importlib.import_module(module_name).blp
        csrf.exempt(blp)  # bearer tokens, not cookies: there is no cross-site request to forge
        api.register_blueprint(blp)


__all__ = ["api", "init_app"]
