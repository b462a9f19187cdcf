"""The spot-check checklist, taken from the acceptable-use paper: one statement per duty a manager can check with
the phone in front of them. Each item applies to individual phones, the Broadcast phone, or both; the answers are
yes, no, or not applicable.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.models import SpotCheckOutcome

BOTH = ("individual", "broadcast")


@dataclass(frozen=True)
class ChecklistItem:
    key: str
    statement: str  # what the manager confirms, as a plain sentence
    hint: str  # where in the paper it comes from, or what to look at
    roles: tuple[str, ...] = BOTH


CHECKLIST: tuple[ChecklistItem, ...] = (
    ChecklistItem("no_sensitive_data", "No sensitive or personal information was sent in the conversations I looked at",
                  "The paper: staff must not disclose any sensitive information to service users."),
    ChecklistItem("case_record", "Conversations about case work or safeguarding are entered in the case record",
                  "The paper: enter the content of conversations onto line-of-business systems in a timely manner.",
                  roles=("individual",)),
    ChecklistItem("inactive_deleted", "Conversations that are no longer active or relevant have been deleted",
                  "The paper: delete conversations that are no longer active and/or relevant."),
    ChecklistItem("media_retention", "Old WhatsApp media and exported chats were entered in the case record, then deleted",
                  "The evidence above lists media older than the retention period and chat exports in shared storage."),
    ChecklistItem("service_users_told", "Service users were told WhatsApp is for working hours only, and that other ways to "
                  "contact the council exist", "The paper: it is not a way of reaching key workers 24/7; service users "
                  "need not use WhatsApp.", roles=("individual",)),
    ChecklistItem("broadcast_only", "This Broadcast phone is used for Broadcast messages only, with no individual case work",
                  "The paper: a separate work phone that is only to be used for this specific purpose.",
                  roles=("broadcast",)),
)
ITEMS: dict[str, ChecklistItem] = {item.key: item for item in CHECKLIST}
ANSWER_LABELS = {"yes": "Yes", "no": "No", "not_applicable": "Not applicable"}
OUTCOME_LABELS = {
    SpotCheckOutcome.NO_CONCERNS.value: "No concerns",
    SpotCheckOutcome.FOLLOW_UP.value: "Concerns: follow-up actions agreed",
    SpotCheckOutcome.INCIDENT.value: "Serious concern: an information incident is reported",
}


def items_for(role: str) -> tuple[ChecklistItem, ...]:
    return tuple(item for item in CHECKLIST if role in item.roles)
