"""Compliance API: rule-document versions, sweep plans, claims, result batches and finishing a sweep.

All endpoints need a bearer token with scope `agent`; publishing a rule-document version also needs the
token's user to be an admin. Bodies are JSON; unknown fields are refused (400). Times are ISO 8601 with a zone.

Contract with the sweep agent (device_agent/sweep.py):

GET  /api/v1/compliance/policies/current
     -> 200 {"version": int, "document": str (YAML), "comment": str|null, "created_at": datetime}
        404 when no version was ever published (the agent then uses its packaged default document).
GET  /api/v1/compliance/policies            -> 200 [{"version", "comment", "created_at"}] newest first (paginated)
GET  /api/v1/compliance/policies/<version>  -> 200 {"version", "document", "comment", "created_at"}
POST /api/v1/compliance/policies {"document": str (YAML), "comment"?: str}
     -> 201 {"version", "document", "comment", "created_at"}; 400 when the document does not parse/validate
        (errors: {"document": [...]}); 403 when the token's user is not an admin.

POST /api/v1/sweeps {"sweep_id": uuid (chosen by the client), "source": "cli"|"scheduler"|"celery", "site"?: str|null}
     -> 201 (created) or 200 (already existed; same plan again, so a retried create is harmless):
        {"sweep_id": str, "created": bool, "started_at": datetime,
         "policy": {"version": int|null, "document": str},
         "devices": [{"serial": str, "endpoint": "host:port", "site": str|null, "role": "individual"|"broadcast",
                      "state": "approved"|"provisioned"|"suspended"|"registered"|"pending_approval",
                      "model": str|null, "build_fingerprint": str|null, "security_patch": "YYYY-MM-DD"|null,
                      "approved_apps": [{"package": str, "signer_sha256": [hex, ...], "min_version_code": int}]}]}
        Devices are phones with an ADB endpoint (and at `site` when given). Registered/pending phones are included
        so an install that was never approved is found; their approved_apps list is still what their role would get.

POST /api/v1/sweeps/<sweep_id>/claims {"serials": [str, ...], "worker": str}
     -> 200 {"granted": [serials this worker now owns], "refused": [serials someone else claimed or unknown]}
        A phone is granted to one worker per sweep, ever (primary key on (sweep, device)); asking again for a phone
        you already hold returns it as granted again (so a retried claim is harmless).

POST /api/v1/sweeps/<sweep_id>/results
     {"results": [{"serial": str, "rule": str, "outcome": "pass"|"fail"|"error"|"not_applicable",
                   "severity": "low"|"medium"|"high"|"critical", "observed": str|null, "evidence": {...},
                   "checked_at": datetime}],
      "devices": [{"serial": str, "facts_summary": {"manufacturer", "model", "android_release", "sdk",
                   "security_patch", "build_fingerprint"} (all optional), "seen_at": datetime}]}
     -> 200 {"stored": int (new rows), "duplicates": int (already stored: re-delivered batch), "unknown_serials": [str]}
        Idempotent per (sweep, device, rule): sending the same batch twice stores it once. 409 if the sweep is finished.
        Up to 20,000 results per batch.

POST /api/v1/sweeps/<sweep_id>/finish {}
     -> 200 {"sweep_id", "finished_at", "policy_version", "device_count", "counts": {"compliant", "in_grace",
             "non_compliant", "unknown"}, "non_compliant": [serials], "in_grace": [{"serial", "until"}],
             "actions": {"manager_emails": int, "escalation_emails": int, "suspended": [serials]},
             "already_finished": bool}
        Computes each phone's state (including the server-side rules acknowledgement_current, training_current and
        seen_recently), runs the rule actions, and updates the daily summaries. Finishing twice runs actions once.
GET  /api/v1/sweeps/<sweep_id> -> 200 the same summary (counts as of now), or 404.
"""
