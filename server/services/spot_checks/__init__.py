"""Manager spot checks, as the acceptable-use paper asks ("make the phone available for manager spot check at any
given time"):

- starting.py: a manager calls one phone in, or draws the team's random sample for the period (the rate is the
  rules document's `spot_checks` section); the holder is e-mailed to bring the phone by a date.
- evidence.py: when the phone is plugged in, `phonegate spot-check` records an evidence snapshot (facts, a
  compliance run, WhatsApp storage: media ages, backups, exported chats; never message content).
- checklist.py and completion.py: the manager completes the paper's checklist with an outcome and follow-ups.
- reports.py: spot checks done per team per quarter.

Who may do what is server.services.access; every change is audited, and the ones two people could make at once
(starting, recording evidence, completing) lock the row first (server.database.lock_row).
"""
