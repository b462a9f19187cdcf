"""The one definition of each number people compare: the dashboard, the compliance pages and the CSV export all
count through here, so "Not compliant 0" on one page and 3 on another cannot happen again.

- The phones compliance covers are those a sweep visits (ingest.PLAN_STATES): enrolled phones (approved,
  provisioned, suspended) and phones not yet approved, where the app would be an unauthorised install. Rejected
  and retired phones are not counted.
- "Not compliant", "In grace period", "Compliant" and "Not checked yet" are those phones by their compliance state.
- "Waiting" is enrolment requests still pending, among those the reader may see.

Every function takes the `Select` of devices (or requests) the reader may see, from services/access.
"""

from __future__ import annotations

from sqlalchemy import Select, func
from sqlalchemy.orm import Session

from server.models import Device, EnrolmentRequest, EnrolmentStatus
from server.services.compliance.ingest import PLAN_STATES
from server.services.compliance.state import STATES

COUNTED_PHONE_STATES = PLAN_STATES


def counted_phone_ids(devices: Select) -> Select:
    """The ids of the phones the compliance figures cover, among those the reader may see."""
    return devices.with_only_columns(Device.id).where(Device.state.in_(COUNTED_PHONE_STATES)).order_by(None)


def compliance_counts(session: Session, devices: Select) -> dict[str, int]:
    """{compliance state: number of phones} for every state in STATES (0 when none)."""
    counts = {state: 0 for state in STATES}
    query = (devices.with_only_columns(Device.compliance_state, func.count())
             .where(Device.state.in_(COUNTED_PHONE_STATES)).group_by(Device.compliance_state).order_by(None))
    for state, count in session.execute(query):
        counts[state] = count
    return counts


def waiting_requests(requests: Select) -> Select:
    """The enrolment requests waiting for a decision, among `requests` (access.requests_query)."""
    return requests.where(EnrolmentRequest.status == EnrolmentStatus.PENDING.value)


def waiting_count(session: Session, requests: Select) -> int:
    return session.scalar(waiting_requests(requests).with_only_columns(func.count()).order_by(None)) or 0
