"""Password hashing (argon2id via argon2-cffi) and the minimum rules for a new password."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from server.services.errors import InvalidInput

MIN_LENGTH = 10
MAX_LENGTH = 1024  # argon2 copes with more, but nobody types this much and it bounds the work per attempt
_hasher = PasswordHasher()


def check_new_password(password: str) -> None:
    if not password or not password.strip():
        raise InvalidInput("The password is empty.", errors={"password": ["Enter a password."]})
    if len(password) < MIN_LENGTH:
        raise InvalidInput(
            f"The password is too short: use at least {MIN_LENGTH} characters.",
            errors={"password": [f"Use at least {MIN_LENGTH} characters."]},
        )
    if len(password) > MAX_LENGTH:
        raise InvalidInput("The password is too long.", errors={"password": ["Too long."]})


def hash_password(password: str) -> str:
    check_new_password(password)
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; False for a mismatch, a missing hash or a damaged one."""
    if not password_hash or not password or len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def generate_password() -> str:
    """A one-time password a person can type: 4 groups of 5 characters, ~100 bits."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4))
