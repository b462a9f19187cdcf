"""Who is doing something: recorded on every audit entry as a label that holds no personal data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from server.models import ApiToken, User

COMMAND_LINE_PREFIX = "cli:"


@dataclass(frozen=True)
class Actor:
    user: User | None
    label: str  # "user:3", "token:5", "system", "cli:alice@bench-pc"

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user is not None else None

    @classmethod
    def for_user(cls, user: User) -> Actor:
        return cls(user=user, label=f"user:{user.id}")

    @classmethod
    def for_token(cls, token: ApiToken) -> Actor:
        return cls(user=token.user, label=f"token:{token.id}")

    @classmethod
    def system(cls) -> Actor:
        """The server acting on its own (scheduler, first start)."""
        return cls(user=None, label="system")

    @classmethod
    def at_command_line(cls, account: str, user: User | None = None) -> Actor:
        """Someone at the server's command line: `account` is the operating-system "user@host" that ran the
        command (server/commands/actor.py makes it printable and short), `user` the PhoneGate user named with
        --as, if any. There is no anonymous command-line actor: every entry says which account it came from."""
        if not account:
            raise ValueError("a command-line actor needs the operating-system account that ran the command")
        return cls(user=user, label=f"{COMMAND_LINE_PREFIX}{account}")
