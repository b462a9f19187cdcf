"""The organisation: services and their teams. Names are unique; lookups by name raise NotFound."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.models import Service, Team
from server.services import audit
from server.services.actor import Actor
from server.services.errors import Conflict, InvalidInput, NotFound

MAX_NAME = 120


def _clean_name(name: str, what: str) -> str:
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise InvalidInput(f"The {what} name is empty.", errors={"name": ["Enter a name."]})
    if len(cleaned) > MAX_NAME:
        raise InvalidInput(f"The {what} name is longer than {MAX_NAME} characters.", errors={"name": ["Too long."]})
    return cleaned


def add_service(session: Session, name: str, actor: Actor) -> Service:
    name = _clean_name(name, "service")
    if session.scalar(select(Service.id).where(func.lower(Service.name) == name.lower())) is not None:
        raise Conflict(f"A service called {name!r} already exists.", errors={"name": ["Already exists."]})
    service = Service(name=name)
    session.add(service)
    session.flush()
    audit.record(session, actor, "service.added", target=service)
    return service


def add_team(session: Session, name: str, service: Service, actor: Actor) -> Team:
    name = _clean_name(name, "team")
    if session.scalar(select(Team.id).where(func.lower(Team.name) == name.lower())) is not None:
        raise Conflict(f"A team called {name!r} already exists.", errors={"name": ["Already exists."]})
    team = Team(name=name, service=service)
    session.add(team)
    session.flush()
    audit.record(session, actor, "team.added", target=team, details={"service_id": service.id})
    return team


def service_by_name(session: Session, name: str) -> Service:
    service = session.scalar(select(Service).where(func.lower(Service.name) == " ".join(name.split()).lower()))
    if service is None:
        raise NotFound(f"There is no service called {name!r}.", errors={"service": ["Unknown service."]})
    return service


def unknown_service_names(session: Session, names: list[str]) -> list[str]:
    """The names in `names` no service has (as given, in order), matched as service_by_name matches them."""
    wanted = {" ".join(name.split()).lower() for name in names}
    known = set(session.scalars(select(func.lower(Service.name)).where(func.lower(Service.name).in_(list(wanted)))))
    return [name for name in names if " ".join(name.split()).lower() not in known]


def team_by_name(session: Session, name: str) -> Team:
    team = session.scalar(select(Team).where(func.lower(Team.name) == " ".join(name.split()).lower()))
    if team is None:
        raise NotFound(f"There is no team called {name!r}.", errors={"team": ["Unknown team."]})
    return team
