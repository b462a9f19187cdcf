"""Bearer-token authentication for the API, with scopes, before anything reads the request's body.

    @token_required("provision")            # only provisioning tokens
    @token_required("provision", "agent")   # either

`token_required` only declares the scopes (anywhere in the view's decorator stack). The check itself runs in
`authenticate_request`, a before_request hook that server/api/__init__.py registers ahead of every other
request hook that reads a body: no or unknown token: 401, a live token of another scope: 403, and the body of a
refused request is never parsed. Every API endpoint must declare its scopes; init_app refuses to start when one
does not (see `check_every_endpoint_declares_scopes`).

Sets g.api_token, g.api_user and g.actor. A request without a valid token writes no audit entry: an anonymous
caller could otherwise grow the audit log at will.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from datetime import timedelta
from typing import Any, TypeVar

from flask import Flask, current_app, g, request
from flask_smorest import abort

from server.extensions import db
from server.models import utcnow
from server.services import tokens
from server.services.actor import Actor

F = TypeVar("F", bound=Callable[..., Any])
# Writing last_used_at on every call would make every read a write; once a minute is enough to see use.
LAST_USED_RESOLUTION = timedelta(minutes=1)
SCOPES_ATTRIBUTE = "phonegate_token_scopes"
API_PREFIX = "/api/"
# Endpoints under /api/ that need no token: the OpenAPI document itself.
PUBLIC_ENDPOINTS = frozenset({"api-docs.openapi_json"})


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def token_required(*scopes: str) -> Callable[[F], F]:
    unknown = set(scopes) - set(tokens.SCOPES)
    if not scopes or unknown:
        raise ValueError(f"token_required needs scopes from {tokens.SCOPES}, got {scopes}")

    def decorator(view: F) -> F:
        # functools.wraps in the decorators stacked above copies this attribute up to the registered view.
        setattr(view, SCOPES_ATTRIBUTE, tuple(scopes))
        # Document the requirement in the OpenAPI document next to the view's other docs.
        apidoc = deepcopy(getattr(view, "_apidoc", {}))
        apidoc.setdefault("manual_doc", {})["security"] = [{"bearerAuth": []}]
        responses = apidoc.setdefault("response", {}).setdefault("responses", {})
        responses.setdefault(401, []).append("UNAUTHORIZED")  # names of smorest's registered error responses
        responses.setdefault(403, []).append("FORBIDDEN")
        view._apidoc = apidoc  # type: ignore[attr-defined]
        return view

    return decorator


def scopes_of(endpoint: str | None, method: str) -> tuple[str, ...] | None:
    """The scopes the view behind `endpoint` declared for `method`, or None when it declared none."""
    view = current_app.view_functions.get(endpoint or "")
    if view is None:
        return None
    view_class = getattr(view, "view_class", None)
    if view_class is not None:  # a MethodView: each method declares its own
        view = getattr(view_class, method.lower(), None)
        if view is None and method == "HEAD":
            view = getattr(view_class, "get", None)
    return getattr(view, SCOPES_ATTRIBUTE, None)


def authenticate_request() -> None:
    """The before_request check for every /api/ request (except the OpenAPI document)."""
    if not request.path.startswith(API_PREFIX) or request.endpoint in PUBLIC_ENDPOINTS:
        return
    if request.endpoint is None or request.method == "OPTIONS":
        return  # no such route (404) or method (405): the router answers, nothing is read
    scopes = scopes_of(request.endpoint, request.method)
    if scopes is None:  # init_app makes this impossible; refuse rather than serve an unguarded endpoint
        abort(403, message="This endpoint declares no token scope; it is refused.")
    plaintext = bearer_token()
    if plaintext is None:
        abort(401, message="This needs an API token: send 'Authorization: Bearer <token>'.")
    token = tokens.authenticate(db.session, plaintext)
    if token is None:
        abort(401, message="The API token is unknown or revoked.")
    if token.scope not in scopes:
        abort(403, message=f"This API token's scope ({token.scope}) does not allow this request.")
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        token.last_used_at = now  # committed with the request's own change (or rolled back with it)
    g.api_token = token
    g.api_user = token.user
    g.actor = Actor.for_token(token)


def check_every_endpoint_declares_scopes(app: Flask) -> None:
    """At start-up: an /api/ route whose view declares no scopes is a mistake that must not be served."""
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if not rule.rule.startswith(API_PREFIX) or rule.endpoint in PUBLIC_ENDPOINTS:
                continue
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                if scopes_of(rule.endpoint, method) is None:
                    raise RuntimeError(f"API endpoint {rule.endpoint} ({method} {rule.rule}) has no @token_required(...)")
