"""The optional second factor for password log-in: a time-based one-time code (TOTP, RFC 6238, via pyotp).

Enrolment shows the secret once (typed into an authenticator app; no QR code, so it never goes through an
image service) and keeps it only when a code made from it checks out. The secret is stored encrypted with a
key derived from the instance's secret key: a copy of the database alone does not make codes. Each code works
once (the last time step used is kept). Lost the phone? An administrator resets it; every step is audited.
"""

from __future__ import annotations

import base64
import hmac
import time

import pyotp
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.orm import Session

from server.models import User, utcnow
from server.services import audit
from server.services.actor import Actor
from server.services.errors import Conflict

STEP_SECONDS = 30
DRIFT_STEPS = 1  # a code from the step before or after is accepted too: phone clocks drift


def new_secret() -> str:
    return pyotp.random_base32()


def grouped(secret: str) -> str:
    """The secret in groups of four, as people type it."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def is_enrolled(user: User) -> bool:
    return user.totp_secret is not None


def enrol(session: Session, user: User, secret: str, code: str, secret_key: str) -> bool:
    """Keep `secret` for `user` if `code` was made from it; False (and nothing stored) if not."""
    if is_enrolled(user):
        raise Conflict("A second factor is set up already; an administrator can reset it.")
    step = _matching_step(secret, code, time.time())
    if step is None:
        return False
    user.totp_secret = _cipher(secret_key).encrypt(secret.encode("ascii")).decode("ascii")
    user.totp_enrolled_at = utcnow()
    user.totp_last_step = step
    audit.record(session, Actor.for_user(user), "user.second_factor_enrolled", target=user)
    return True


def check(user: User, code: str, secret_key: str, now: float | None = None) -> bool:
    """True when `code` is right now and not used before; remembers its step (the caller commits)."""
    if not is_enrolled(user):
        return False
    try:
        secret = _cipher(secret_key).decrypt(user.totp_secret.encode("ascii")).decode("ascii")
    except InvalidToken:  # the instance's secret key changed: only an administrator's reset helps
        return False
    step = _matching_step(secret, code, time.time() if now is None else now)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return False
    user.totp_last_step = step
    return True


def reset(session: Session, user: User, actor: Actor) -> None:
    if not is_enrolled(user):
        raise Conflict("That user has no second factor to reset.")
    user.totp_secret = None
    user.totp_enrolled_at = None
    user.totp_last_step = None
    audit.record(session, actor, "user.second_factor_reset", target=user)


def _matching_step(secret: str, code: str, now: float) -> int | None:
    cleaned = "".join((code or "").split())
    if len(cleaned) != 6 or not cleaned.isdigit():
        return None
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    current = int(now // STEP_SECONDS)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), cleaned):
            return step
    return None


def _cipher(secret_key: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"phonegate second factor").derive(
        secret_key.encode("utf-8"))
    return Fernet(base64.urlsafe_b64encode(derived))
