"""Who is doing something: recorded on every audit entry as a label that holds no personal data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from server.models import ApiToken, User


@dataclass(frozen=True)
class Actor:
    user: User | None
    label: str  # "user:3", "token:5", "system", "cli"

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
    def cli(cls) -> Actor:
        """Someone at the server's command line (whoever can run `phonegate` can read the database anyway)."""
        return cls(user=None, label="cli")
