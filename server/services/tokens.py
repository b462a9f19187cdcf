"""API tokens: 256 random bits shown once; only their SHA-256 is stored, so a database leak yields no tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import ApiToken, Role, User, utcnow
from server.services import audit
from server.services.actor import Actor
from server.services.errors import Conflict, InvalidInput, NotFound

SCOPES = ("provision", "agent", "station")
TOKEN_PREFIX = "pgt_"
# Who may hold which scope: provisioning is IT's (and admins') job; agents run sweeps for admins.
SCOPE_ROLES = {"provision": {Role.IT.value, Role.ADMIN.value}, "agent": {Role.IT.value, Role.ADMIN.value},
               "station": {Role.IT.value, Role.ADMIN.value}}


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def create_token(session: Session, user: User, scope: str, actor: Actor) -> tuple[str, ApiToken]:
    if scope not in SCOPES:
        raise InvalidInput(f"Unknown scope; use one of: {', '.join(SCOPES)}.", errors={"scope": ["Unknown scope."]})
    if not user.active:
        raise Conflict("That user is not active.")
    if user.role not in SCOPE_ROLES[scope]:
        raise InvalidInput(
            f"A {user.role} cannot hold a {scope} token; give it to an IT or admin user.",
            errors={"scope": ["Not allowed for this user's role."]},
        )
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, scope=scope, token_hash=hash_token(plaintext), prefix=plaintext[:10])
    session.add(token)
    session.flush()
    audit.record(session, actor, "token.created", target=token, details={"user_id": user.id, "scope": scope})
    return plaintext, token


def authenticate(session: Session, plaintext: str) -> ApiToken | None:
    """The live token for `plaintext`, or None (unknown, revoked, or its user deactivated)."""
    if not plaintext or len(plaintext) > 200:
        return None
    digest = hash_token(plaintext)
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    # The lookup is by hash already; compare_digest keeps the final check constant-time anyway.
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    if token.revoked_at is not None or not token.user.active:
        return None
    if token.user.role not in SCOPE_ROLES.get(token.scope, set()):
        return None  # the holder's role changed since the token was made: the token no longer fits it
    return token


def revoke_token(session: Session, token_id: int, actor: Actor) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound("No API token has that id.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(session, actor, "token.revoked", target=token)
    return token
