"""What the race tests share: signed-in browsers, calls released at one moment, audit counts.

Each race test runs real HTTP requests against the live server in threads held at one barrier, so the requests
reach the database together; the helpers here keep that machinery in one place.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import requests
from fixtures_server import TEST_PASSWORD
from fixtures_web import csrf_from
from sqlalchemy import func, select

from server.extensions import db
from server.models import AuditEntry


def signed_in(live_server, user) -> requests.Session:
    """A browser of its own (cookies, CSRF token) signed in as `user` with the test password."""
    browser = requests.Session()
    page = browser.get(f"{live_server.url}/login", timeout=10)
    answer = browser.post(f"{live_server.url}/login", timeout=10, allow_redirects=False, data={
        "email": user.email, "password": TEST_PASSWORD, "csrf_token": csrf_from(page.text)})
    assert answer.status_code == 302, answer.text[:300]
    return browser


def at_once(calls: Sequence[Callable[[], requests.Response]]) -> list[requests.Response]:
    """Run the callables at the same moment, each in its own thread; their responses in order."""
    barrier = threading.Barrier(len(calls))
    answers: list = [None] * len(calls)

    def run(index: int, call: Callable[[], requests.Response]) -> None:
        barrier.wait(timeout=10)
        try:
            answers[index] = call()
        except BaseException as exc:  # noqa: BLE001 (reported by the assertion below)
            answers[index] = exc

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for answer in answers:
        assert isinstance(answer, requests.Response), answer
    return answers


def posting(live_server, browser: requests.Session, path: str, form: dict) -> Callable[[], requests.Response]:
    """A form post, ready to be released by `at_once`."""
    return lambda: browser.post(f"{live_server.url}{path}", data=form, allow_redirects=False, timeout=30)


def audit_count(action: str, **where: object) -> int:
    """Audit entries of `action` whose columns equal `where` (target_type=..., target_id=...)."""
    query = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
    for name, value in where.items():
        query = query.where(getattr(AuditEntry, name) == str(value))
    return db.session.scalar(query) or 0


def another_manager(factory, team, email: str):
    """A second manager of `team` who can sign in with the test password."""
    from server.services import passwords

    manager = factory.user("manager", team=team, email=email)
    manager.password_hash = passwords.hash_password(TEST_PASSWORD)
    db.session.commit()
    return manager
