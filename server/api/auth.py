"""Bearer-token authentication for the API, with scopes.

    @token_required("provision")            # only provisioning tokens
    @token_required("provision", "agent")   # either

Sets g.api_token, g.api_user and g.actor. No or unknown token: 401. A live token of another scope: 403.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import g, request
from flask_smorest import abort

from server.extensions import db
from server.models import utcnow
from server.services import tokens
from server.services.actor import Actor

F = TypeVar("F", bound=Callable[..., Any])
# Writing last_used_at on every call would make every read a write; once a minute is enough to see use.
LAST_USED_RESOLUTION = timedelta(minutes=1)


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
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
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
            return view(*args, **kwargs)

        # Document the requirement in the OpenAPI document next to the view's other docs.
        wrapper._apidoc = deepcopy(getattr(view, "_apidoc", {}))  # type: ignore[attr-defined]
        manual = wrapper._apidoc.setdefault("manual_doc", {})  # type: ignore[attr-defined]
        manual["security"] = [{"bearerAuth": []}]
        responses = wrapper._apidoc.setdefault("response", {}).setdefault("responses", {})  # type: ignore[attr-defined]
        responses.setdefault(401, []).append("UNAUTHORIZED")  # names of smorest's registered error responses
        responses.setdefault(403, []).append("FORBIDDEN")
        return wrapper  # type: ignore[return-value]

    return decorator
