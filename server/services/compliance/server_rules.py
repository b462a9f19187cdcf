"""The rules the server evaluates itself at the end of a sweep, from its own records (not from the phone).

Declared here, beside their evaluation in state.py; the rules document configures them with the device rules
(phonegate.core.device_rules), and `KNOWN_RULES` is what a document is validated against.
"""

from __future__ import annotations

from phonegate.core.device_rules import DEVICE_RULES
from phonegate.core.rules import Param, RuleSpec

ACKNOWLEDGEMENT_CURRENT = RuleSpec(
    "acknowledgement_current", "Holder acknowledged the current acceptable-use policy", "server",
    default_roles=("individual",), default_severity="high")
TRAINING_CURRENT = RuleSpec(
    "training_current", "Holder's data-protection training is current", "server",
    params=(Param("max_age_days", "int", 365, "no longer used", minimum=1,
                  deprecated="training validity is the server setting PHONEGATE_TRAINING_VALID_DAYS, the same for "
                             "approvals and sweeps"),),
    default_roles=("individual",), default_severity="high")
SEEN_RECENTLY = RuleSpec(
    "seen_recently", "Phone answered a sweep recently", "server",
    params=(Param("max_days", "int", 7, "days without a successful sweep before the phone fails", minimum=1),),
    default_severity="medium")

CHECKED_IN = RuleSpec(
    "checked_in", "Phone was checked (at a check-in station or by a sweep) by its due date", "server",
    params=(Param("every_days", "int", 7, "an enrolled phone is due for a check this many days after its last one", minimum=1),
            Param("remind_days_before", "int", 2, "the holder and the manager are e-mailed once, this many days before "
                                                  "the due date", minimum=0),
            Param("overdue_grace_days", "int", 3, "days past the due date before the phone is non-compliant", minimum=0)),
    default_severity="medium")

SERVER_RULES: dict[str, RuleSpec] = {spec.rule: spec for spec in (ACKNOWLEDGEMENT_CURRENT, TRAINING_CURRENT, SEEN_RECENTLY, CHECKED_IN)}
KNOWN_RULES: dict[str, RuleSpec] = {**DEVICE_RULES, **SERVER_RULES}
