"""The compliance part's settings, read from the one Settings object with safe defaults.

Kept as a small frozen dataclass so services and tests can pass explicit values (time-travel tests, benchmarks)
without touching the application's configuration.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, has_app_context, has_request_context, request

from server.mail import SmtpSettings


@dataclass(frozen=True)
class ComplianceSettings:
    seen_within_days: int = 7  # PHONEGATE_COMPLIANCE_SEEN_DAYS: not reached for longer -> state unknown
    training_validity_days: int = 365  # PHONEGATE_TRAINING_VALID_DAYS: 12 months (the rules' max_age_days wins)
    result_retention_days: int = 90  # PHONEGATE_COMPLIANCE_RETENTION_DAYS: raw results; daily summaries are kept
    public_url: str = "http://127.0.0.1:5000"  # PHONEGATE_PUBLIC_URL: links in e-mails
    smtp: SmtpSettings = SmtpSettings(host=None)


def compliance_settings() -> ComplianceSettings:
    if not has_app_context():
        return ComplianceSettings()
    settings = current_app.config.get("PHONEGATE")
    if settings is None:
        return ComplianceSettings()
    defaults = ComplianceSettings()
    return ComplianceSettings(
        seen_within_days=int(getattr(settings, "compliance_seen_days", None) or defaults.seen_within_days),
        training_validity_days=int(getattr(settings, "training_valid_days", None) or defaults.training_validity_days),
        result_retention_days=int(getattr(settings, "compliance_retention_days", None) or defaults.result_retention_days),
        public_url=(getattr(settings, "public_url", None) or _request_root() or defaults.public_url).rstrip("/"),
        smtp=SmtpSettings.from_settings(settings),
    )


def _request_root() -> str | None:
    # Without PHONEGATE_PUBLIC_URL, links point where the finishing agent reached the server.
    return request.host_url if has_request_context() else None
