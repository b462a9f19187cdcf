"""Compliance on the server: the rules versions, sweeps and their results, phone states, actions and reports.

rules.py (versions of the rules document) and server_rules.py (the rules the server checks itself);
ingest.py (start a sweep, claim phones, store results) -> sweeps.py (finish: state.py, actions.py, retention.py);
reports.py (the figures the compliance pages and CSV exports show).
"""
