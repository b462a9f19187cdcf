"""The administrator's first-run task list: what a new PhoneGate needs before a manager can approve a phone.

Each task is done or not done from the database as it is now (nothing is stored about the list itself).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from server.models import CatalogueApp, PolicyVersion, Role, Team, User


@dataclass(frozen=True)
class Task:
    key: str
    title: str
    done: bool
    how: str  # where it is done: a page (endpoint) or, for what has no page, the command


def tasks(session: Session) -> list[Task]:
    def any_row(*criteria) -> bool:
        return bool(session.scalar(select(exists().where(*criteria))))

    return [
        Task("policy", "Publish the acceptable-use policy", any_row(PolicyVersion.id.is_not(None)), "pages.policy_new"),
        Task("app", "Add the WhatsApp app to the catalogue", any_row(CatalogueApp.active.is_(True)), "pages.catalogue"),
        Task("team", "Add a team", any_row(Team.id.is_not(None)), "phonegate team add TEAM --service SERVICE"),
        Task("manager", "Add a team manager", any_row(User.role == Role.MANAGER.value, User.active.is_(True)),
             "pages.user_new"),
    ]
