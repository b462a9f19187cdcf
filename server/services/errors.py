"""Errors raised by services. Each carries its HTTP status; the CLI maps them to exit codes through
PhoneGateError.exit_code, the web/API through server.errors. Messages are sentences a person can act on and
never contain personal data (say "the staff member", not their email)."""

from __future__ import annotations

from phonegate.core.errors import PhoneGateError


class ServiceError(PhoneGateError):
    http_status = 400
    code = "error"  # a stable machine-readable word for API clients
    exit_code = 1

    def __init__(self, message: str, *, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors: dict[str, list[str]] = errors or {}


class InvalidInput(ServiceError):
    """Bad input: nothing was changed. `errors` maps field names to messages."""

    http_status = 400
    code = "invalid_input"
    exit_code = 2


class NotFound(ServiceError):
    http_status = 404
    code = "not_found"
    exit_code = 2  # on the command line, naming something that does not exist is bad input


class Conflict(ServiceError):
    http_status = 409
    code = "conflict"
    exit_code = 2


class InvalidTransition(Conflict):
    """A device may only move along ALLOWED_TRANSITIONS."""

    code = "invalid_transition"
    exit_code = 3


class Forbidden(ServiceError):
    http_status = 403
    code = "forbidden"
    exit_code = 3


class PolicyRefused(Forbidden):
    """Refused by the rules (not approved, wrong signer, grant already used...)."""

    code = "policy_refused"
