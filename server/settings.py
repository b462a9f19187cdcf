"""The one settings object: read from the environment once, in create_app, and kept on the app.

Every part of the server reads its settings through `current_settings()` (the object on `app.config["PHONEGATE"]`)
or is handed the object, never reads os.environ, and never restates a default: the defaults are the fields'
defaults below. Tests give an app its own values with `create_app({"PHONEGATE_...": ...})`.
To add a setting: add a field with its default and one line in `Settings.from_environ`.
(The agent's and provisioning's variables are read in one place too: device_agent/settings.py.)
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app, has_request_context, request

from phonegate.core.errors import BadInput
from phonegate.core.files import FILE_MODE, private_file, private_folder
from phonegate.core.packages import DEFAULT_PACKAGES_BY_ROLE, WHATSAPP, WHATSAPP_BUSINESS

LOOPBACK_URL = "http://127.0.0.1:5000"
SECRET_KEY_FILE = "secret_key"
DEFAULT_DATABASE_FILE = "phonegate.sqlite3"

# WhatsApp's signing certificate, SHA-256. Where it comes from, and what is not known about WhatsApp Business's,
# is written down in server/services/catalogue.py.
WHATSAPP_SIGNER_SHA256 = "3987d043d10aefaf5a8710b3671418fe57e0e19b653c9df82558feb5ffce5d44"
DEFAULT_SIGNER_PINS: dict[str, tuple[str, ...]] = {
    WHATSAPP: (WHATSAPP_SIGNER_SHA256,),
    WHATSAPP_BUSINESS: (WHATSAPP_SIGNER_SHA256,),
}


def _flag(env: Mapping[str, str], name: str, default: bool | None) -> bool | None:
    value = (env.get(name) or "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise BadInput(f"{name} must be 1 or 0 (yes or no), got {value!r}.")


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    """A whole number; an explicit 0 stays 0 (only an unset or empty variable takes the default)."""
    value = (env.get(name) or "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise BadInput(f"{name} must be a whole number, got {value!r}.") from None
    if number < minimum:
        raise BadInput(f"{name} must be at least {minimum}, got {number}.")
    return number


def _text(env: Mapping[str, str], name: str, default: str = "") -> str:
    return (env.get(name) or "").strip() or default


def _mailbox(env: Mapping[str, str], name: str) -> str:
    """One e-mail address, or empty; anything else is refused at start rather than when an incident is reported."""
    value = _text(env, name)
    if value and (value.count("@") != 1 or any(c.isspace() or c in ",;<>" for c in value)
                  or not all(value.partition("@")[0::2])):
        raise BadInput(f"{name} must be one e-mail address, like information-security@council.example.")
    return value


@dataclass(frozen=True)
class SmtpSettings:
    """Where compliance and incident mail goes (PHONEGATE_SMTP_*); no host = mail off (it waits until set)."""

    host: str | None = None
    port: int = 25
    sender: str = "phonegate@localhost"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    timeout_s: float = 15.0


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    chosen = _text(env, name, default).lower()
    if chosen not in allowed:
        raise BadInput(f"{name} must be one of {', '.join(allowed)}, got {chosen!r}.")
    return chosen


def _proxy_hops(env: Mapping[str, str]) -> int:
    # "1"/"yes" = one proxy; a number = that many proxies in a chain; "0"/"no"/unset = none.
    name = "PHONEGATE_TRUST_PROXY"
    value = _text(env, name).lower()
    if value in {"yes", "true", "on"}:
        return 1
    if value in {"no", "false", "off"}:
        return 0
    hops = _int(env, name, 0)
    if hops > 5:
        raise BadInput(f"{name} must be a number of proxies from 0 to 5, got {hops}.")
    return hops


@dataclass(frozen=True)
class Settings:
    instance_path: Path
    database_url: str
    secret_key: str = field(repr=False)
    # Session cookie Secure flag. None (unset) = auto: Secure except plain HTTP to a loopback host, so
    # `make run` on http://127.0.0.1 works and any other address gets Secure cookies (server/web/session.py).
    secure_cookies: bool | None = None
    log_level: str = "WARNING"
    # Enrolment gate (server/services/decisions.py, training.py, grants.py, catalogue.py).
    training_valid_days: int = 365  # data-protection training counts as current for this many days after it
    grant_ttl_minutes: int = 60  # how long a single-use install grant stays usable
    # Pinned signer certificates' SHA-256 per package; the default is WhatsApp's published certificate.
    signer_pins: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_SIGNER_PINS))
    individual_packages: tuple[str, ...] = DEFAULT_PACKAGES_BY_ROLE["individual"]
    broadcast_packages: tuple[str, ...] = DEFAULT_PACKAGES_BY_ROLE["broadcast"]
    public_url: str = ""  # the address managers open (request links); empty = the address the request came to
    demo_phones: int = 3  # simulated phones `phonegate serve` starts beside the server; 0 = none
    # Compliance (server/services/compliance/, server/mail.py, server/scheduling.py).
    smtp: SmtpSettings = SmtpSettings()
    sweep_schedule: str = "0 */4 * * *"  # cron syntax; "off" = no scheduled sweeps
    broker_url: str = ""  # PHONEGATE_BROKER_URL: scheduled sweeps go to Celery workers per site; empty = in-process
    compliance_seen_days: int = 7  # not reached by a sweep for longer -> state unknown (if the rules don't say)
    compliance_retention_days: int = 90  # raw results older than this are pruned; daily summaries are kept
    # Information incidents go to this mailbox at once (server/services/incidents.py); empty = recorded, not mailed.
    incident_mailbox: str = ""
    # Web pages (server/web/).
    council_name: str = "Leicester City Council"  # shown in the header: "PhoneGate — <council>"
    login_rate_limit: str = "10 per minute"  # Flask-Limiter syntax, per client address, POSTs to /login
    login_max_failures: int = 5  # wrong passwords in a row before the account locks
    login_lockout_minutes: int = 15
    # --- Sign-in, sessions, headers and operations (issue 9, web security part). Kept together as one block:
    # server/web/session.py, server/web/oidc.py, server/http_security.py, server/operations.py, server/log_format.py.
    session_idle_minutes: int = 30  # a web session unused this long ends
    session_max_hours: int = 8  # a web session ends this long after log-in, however busy
    trust_proxy: int = 0  # reverse proxies in front whose X-Forwarded-For/-Proto/-Host are believed; 0 = none
    password_login: str = "all"  # "all": everyone may use a password; "admins": administrators only (break-glass)
    oidc_issuer: str = ""  # the council's OpenID provider; empty = no "sign in with the council account" button
    oidc_client_id: str = ""
    oidc_client_secret: str = field(default="", repr=False)
    oidc_groups_claim: str = "groups"  # the ID token claim holding the person's groups
    oidc_email_claim: str = "email"  # the claim holding the address used to match a PhoneGate user
    oidc_roles: str = ""  # "GROUP=ROLE[:TEAM];@DOMAIN=ROLE[:TEAM];...": first matching rule wins
    metrics_token: str = field(default="", repr=False)  # empty = /metrics from loopback only
    log_format: str = "text"  # "text" or "json" (one JSON object per line)
    # Refusals written to the audit log per caller (token, user, or client address) per window; past it they are
    # counted and written as one summary entry (server/services/refusals.py).
    refusal_audit_limit: int = 30
    refusal_audit_window_seconds: int = 60

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def packages_for(self, role: str) -> tuple[str, ...]:
        """The catalogue packages allowed for a phone role (PHONEGATE_INDIVIDUAL_/BROADCAST_PACKAGES)."""
        return self.broadcast_packages if role == "broadcast" else self.individual_packages

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Every PHONEGATE_* variable the server reads, read here once; a bad value is BadInput (exit 2) at start."""
        env = os.environ if environ is None else environ
        instance = Path(_text(env, "PHONEGATE_INSTANCE", "instance")).expanduser().resolve()
        database_url = _text(env, "PHONEGATE_DATABASE_URL", f"sqlite:///{instance / DEFAULT_DATABASE_FILE}")
        return cls(
            instance_path=instance,
            database_url=_normalise_database_url(database_url),
            secret_key=env.get("PHONEGATE_SECRET_KEY") or "",
            secure_cookies=_flag(env, "PHONEGATE_SECURE_COOKIES", None),
            log_level=_text(env, "PHONEGATE_LOG_LEVEL", "WARNING").upper(),
            training_valid_days=_int(env, "PHONEGATE_TRAINING_VALID_DAYS", 365),
            grant_ttl_minutes=_int(env, "PHONEGATE_GRANT_TTL_MINUTES", 60, minimum=1),
            signer_pins=parse_signer_pins(env.get("PHONEGATE_SIGNER_PINS")),
            individual_packages=_packages(env, "PHONEGATE_INDIVIDUAL_PACKAGES", "individual"),
            broadcast_packages=_packages(env, "PHONEGATE_BROADCAST_PACKAGES", "broadcast"),
            public_url=_text(env, "PHONEGATE_PUBLIC_URL").rstrip("/"),
            demo_phones=_int(env, "PHONEGATE_DEMO_PHONES", 3),
            smtp=SmtpSettings(
                host=_text(env, "PHONEGATE_SMTP_HOST") or None,
                port=_int(env, "PHONEGATE_SMTP_PORT", 25, minimum=1),
                sender=_text(env, "PHONEGATE_SMTP_FROM", "phonegate@localhost"),
                username=_text(env, "PHONEGATE_SMTP_USERNAME") or None,
                password=env.get("PHONEGATE_SMTP_PASSWORD") or None,
                starttls=bool(_flag(env, "PHONEGATE_SMTP_STARTTLS", False)),
            ),
            sweep_schedule=_text(env, "PHONEGATE_SWEEP_SCHEDULE", "0 */4 * * *"),
            broker_url=_text(env, "PHONEGATE_BROKER_URL"),
            compliance_seen_days=_int(env, "PHONEGATE_COMPLIANCE_SEEN_DAYS", 7, minimum=1),
            compliance_retention_days=_int(env, "PHONEGATE_COMPLIANCE_RETENTION_DAYS", 90, minimum=1),
            incident_mailbox=_mailbox(env, "PHONEGATE_INCIDENT_MAILBOX"),
            council_name=_text(env, "PHONEGATE_COUNCIL_NAME", "Leicester City Council"),
            login_rate_limit=_text(env, "PHONEGATE_LOGIN_RATE_LIMIT", "10 per minute"),
            login_max_failures=_int(env, "PHONEGATE_LOGIN_MAX_FAILURES", 5, minimum=1),
            login_lockout_minutes=_int(env, "PHONEGATE_LOGIN_LOCKOUT_MINUTES", 15, minimum=1),
            # --- Sign-in, sessions, headers and operations (issue 9, web security part).
            session_idle_minutes=_int(env, "PHONEGATE_SESSION_IDLE_MINUTES", 30, minimum=1),
            session_max_hours=_int(env, "PHONEGATE_SESSION_MAX_HOURS", 8, minimum=1),
            trust_proxy=_proxy_hops(env),
            password_login=_choice(env, "PHONEGATE_PASSWORD_LOGIN", "all", ("all", "admins")),
            oidc_issuer=_text(env, "PHONEGATE_OIDC_ISSUER"),  # exact: some issuers end in "/"
            oidc_client_id=_text(env, "PHONEGATE_OIDC_CLIENT_ID"),
            oidc_client_secret=env.get("PHONEGATE_OIDC_CLIENT_SECRET") or "",
            oidc_groups_claim=_text(env, "PHONEGATE_OIDC_GROUPS_CLAIM", "groups"),
            oidc_email_claim=_text(env, "PHONEGATE_OIDC_EMAIL_CLAIM", "email"),
            oidc_roles=env.get("PHONEGATE_OIDC_ROLES") or "",
            metrics_token=_text(env, "PHONEGATE_METRICS_TOKEN"),
            log_format=_choice(env, "PHONEGATE_LOG_FORMAT", "text", ("text", "json")),
            refusal_audit_limit=_int(env, "PHONEGATE_REFUSAL_AUDIT_LIMIT", 30, minimum=1),
            refusal_audit_window_seconds=_int(env, "PHONEGATE_REFUSAL_AUDIT_WINDOW_SECONDS", 60, minimum=1),
        )


def parse_signer_pins(text: str | None) -> dict[str, tuple[str, ...]]:
    """"pkg=sha256[,sha256];pkg2=sha256" -> {pkg: (sha256, ...)}; empty -> the published defaults."""
    if not text or not text.strip():
        return dict(DEFAULT_SIGNER_PINS)
    pins: dict[str, tuple[str, ...]] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        package, sep, digests = part.partition("=")
        values = tuple(d.strip().lower().replace(":", "") for d in digests.split(",") if d.strip())
        if not sep or not package.strip() or not values or any(len(v) != 64 or not _is_hex(v) for v in values):
            raise BadInput("PHONEGATE_SIGNER_PINS must look like 'com.whatsapp=<64 hex digits>[,...];pkg=...'")
        pins[package.strip()] = values
    return pins


def _packages(env: Mapping[str, str], name: str, role: str) -> tuple[str, ...]:
    text = env.get(name) or ""
    packages = tuple(p.strip() for p in text.split(",") if p.strip())
    return packages or DEFAULT_PACKAGES_BY_ROLE[role]


def _is_hex(value: str) -> bool:
    return all(c in "0123456789abcdef" for c in value)


def _normalise_database_url(url: str) -> str:
    # "postgresql://" would pick psycopg2, which we do not install; psycopg 3 is the postgres extra.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if not (url.startswith("sqlite") or url.startswith("postgresql+psycopg")):
        raise BadInput("PHONEGATE_DATABASE_URL must be a sqlite:/// or postgresql+psycopg:// URL.")
    return url


def load_or_create_secret_key(instance_path: Path) -> str:
    """The instance's secret key, generated once (0600) so sessions survive restarts without configuration."""
    path = instance_path / SECRET_KEY_FILE
    private_folder(instance_path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        private_file(path)  # one written before PhoneGate narrowed its files
        key = path.read_text(encoding="ascii").strip()
        if len(key) < 32:
            raise BadInput("The secret key file in the instance folder is too short; delete it to make a new one.")
        return key
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key


def current_settings() -> Settings:
    return current_app.config["PHONEGATE"]


def public_root() -> str:
    """Where people open PhoneGate (request links, e-mail links), without a trailing slash.

    PHONEGATE_PUBLIC_URL wins (the server may sit behind a proxy); else the address this request came to; outside
    a request (a scheduled sweep's mail) the loopback address `make run` serves on.
    """
    configured = current_settings().public_url
    if configured:
        return configured
    return (request.host_url if has_request_context() else LOOPBACK_URL).rstrip("/")
