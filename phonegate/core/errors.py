"""The one place where failures meet exit codes.

Every package (server, device_agent, provisioning) raises these, so the console script can turn any of them
into one readable sentence on stderr and the exit code that the README's list promises. This module imports nothing
from the rest of PhoneGate, so depending on it never creates a cycle.
"""


class PhoneGateError(Exception):
    """Base class: an expected failure with a sentence a person can act on."""

    exit_code = 1


class BadInput(PhoneGateError):
    """Bad usage or bad input; nothing was changed."""

    exit_code = 2


class PolicyRefusal(PhoneGateError):
    """Refused by policy: not approved, wrong APK signer, grant already used..."""

    exit_code = 3


class DeviceProblem(PhoneGateError):
    """Something on the phone's side: it cannot be reached, has not allowed this computer, or refused what it was
    asked to do (an install, a file transfer). Fixed at the phone, not by changing the command."""

    exit_code = 4


class DeviceUnreachable(DeviceProblem):
    """The phone could not be reached, or has not accepted this computer's key."""


class DeviceUnauthorised(DeviceUnreachable):
    """The phone answered but has not (yet) allowed USB debugging for our key."""


class ServerUnavailable(PhoneGateError):
    """The PhoneGate server could not be reached, or failed (5xx): nothing the command asked of it happened, and
    running the same command again once the server is back finishes the job."""

    exit_code = 7


class NonCompliant(PhoneGateError):
    """A sweep finished and found non-compliant phones."""

    exit_code = 5


class PersonalDataFound(PhoneGateError):
    """A chat scan finished and found personal data (the same exit code as a sweep's non-compliant phones)."""

    exit_code = 5


class ResultsWaiting(PhoneGateError):
    """A sweep finished, but its results could not be delivered: they wait in the outbox for the next run."""

    exit_code = 6
