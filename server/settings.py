"""The one settings object: read from the environment once, in create_app, and kept on the app.

Every part reads its settings through `current_settings()` (or `app.config["PHONEGATE"]`), never from
os.environ directly, so tests can give an app its own values with `create_app({"PHONEGATE_...": ...})`.
To add a setting: add a field with a default and one line in `Settings.from_environ`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app

from phonegate.errors import BadInput

SECRET_KEY_FILE = "secret_key"
DEFAULT_DATABASE_FILE = "phonegate.sqlite3"


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise BadInput(f"Expected a yes/no value, got {value!r}.")


def _int(value: str | None, default: int, name: str) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise BadInput(f"{name} must be a whole number, got {value!r}.") from None


# --- Parsers for the sign-in, sessions, headers and operations block (issue 9, web security part).
def _positive(value: str | None, default: int, name: str) -> int:
    number = _int(value, default, name)
    if number < 1:
        raise BadInput(f"{name} must be 1 or more, got {value!r}.")
    return number


def _choice(value: str | None, default: str, allowed: tuple[str, ...], name: str) -> str:
    chosen = (value or default).strip().lower()
    if chosen not in allowed:
        raise BadInput(f"{name} must be one of {', '.join(allowed)}, got {value!r}.")
    return chosen


def _proxy_hops(value: str | None) -> int:
    # "1"/"yes" = one proxy; a number = that many proxies in a chain; "0"/"no"/unset = none.
    if value is not None and value.strip().lower() in {"yes", "true", "on"}:
        return 1
    if value is not None and value.strip().lower() in {"no", "false", "off"}:
        return 0
    hops = _int(value, 0, "PHONEGATE_TRUST_PROXY")
    if not 0 <= hops <= 5:
        raise BadInput(f"PHONEGATE_TRUST_PROXY must be a number of proxies from 0 to 5, got {value!r}.")
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
    # Enrolment gate (server/services/decisions.py, grants.py, catalogue.py).
    training_valid_days: int = 365  # data-protection training counts as current for this long
    grant_ttl_minutes: int = 60  # how long a single-use install grant stays usable
    signer_pins: str = ""  # "pkg=sha256[,sha256];pkg=..."; empty = WhatsApp's published certificate
    individual_packages: str = ""  # comma-separated; empty = com.whatsapp
    broadcast_packages: str = ""  # comma-separated; empty = com.whatsapp,com.whatsapp.w4b
    public_url: str = ""  # the address managers open (request links); empty = the address the request came to
    demo_phones: int = 3  # simulated phones `phonegate serve` starts beside the server; 0 = none
    # Compliance (server/services/compliance*.py, server/mail.py, server/scheduling.py).
    smtp_host: str = ""  # empty = e-mail off (notifications wait until it is set)
    smtp_port: int = 25
    smtp_from: str = "phonegate@localhost"
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_starttls: bool = False
    sweep_schedule: str = "0 */4 * * *"  # cron syntax; "off" = no scheduled sweeps
    compliance_seen_days: int = 7  # not reached by a sweep for longer -> state unknown (if the rules don't say)
    compliance_retention_days: int = 90  # raw results older than this are pruned; daily summaries are kept
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

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        instance = Path(env.get("PHONEGATE_INSTANCE") or "instance").expanduser().resolve()
        database_url = env.get("PHONEGATE_DATABASE_URL") or f"sqlite:///{instance / DEFAULT_DATABASE_FILE}"
        secret_key = env.get("PHONEGATE_SECRET_KEY") or ""
        return cls(
            instance_path=instance,
            database_url=_normalise_database_url(database_url),
            secret_key=secret_key,
            secure_cookies=_flag(env.get("PHONEGATE_SECURE_COOKIES"), False) if env.get("PHONEGATE_SECURE_COOKIES") else None,
            log_level=(env.get("PHONEGATE_LOG_LEVEL") or "WARNING").upper(),
            training_valid_days=_int(env.get("PHONEGATE_TRAINING_VALID_DAYS"), 365, "PHONEGATE_TRAINING_VALID_DAYS"),
            grant_ttl_minutes=_int(env.get("PHONEGATE_GRANT_TTL_MINUTES"), 60, "PHONEGATE_GRANT_TTL_MINUTES"),
            signer_pins=env.get("PHONEGATE_SIGNER_PINS") or "",
            individual_packages=env.get("PHONEGATE_INDIVIDUAL_PACKAGES") or "",
            broadcast_packages=env.get("PHONEGATE_BROADCAST_PACKAGES") or "",
            public_url=env.get("PHONEGATE_PUBLIC_URL") or "",
            demo_phones=_int(env.get("PHONEGATE_DEMO_PHONES"), 3, "PHONEGATE_DEMO_PHONES"),
            smtp_host=env.get("PHONEGATE_SMTP_HOST") or "",
            smtp_port=_int(env.get("PHONEGATE_SMTP_PORT"), 25, "PHONEGATE_SMTP_PORT"),
            smtp_from=env.get("PHONEGATE_SMTP_FROM") or "phonegate@localhost",
            smtp_username=env.get("PHONEGATE_SMTP_USERNAME") or "",
            smtp_password=env.get("PHONEGATE_SMTP_PASSWORD") or "",
            smtp_starttls=_flag(env.get("PHONEGATE_SMTP_STARTTLS"), False),
            sweep_schedule=(env.get("PHONEGATE_SWEEP_SCHEDULE") or "0 */4 * * *").strip(),
            compliance_seen_days=_int(env.get("PHONEGATE_COMPLIANCE_SEEN_DAYS"), 7, "PHONEGATE_COMPLIANCE_SEEN_DAYS"),
            compliance_retention_days=_int(env.get("PHONEGATE_COMPLIANCE_RETENTION_DAYS"), 90,
                                           "PHONEGATE_COMPLIANCE_RETENTION_DAYS"),
            council_name=(env.get("PHONEGATE_COUNCIL_NAME") or "Leicester City Council").strip(),
            login_rate_limit=env.get("PHONEGATE_LOGIN_RATE_LIMIT") or "10 per minute",
            login_max_failures=_int(env.get("PHONEGATE_LOGIN_MAX_FAILURES"), 5, "PHONEGATE_LOGIN_MAX_FAILURES"),
            login_lockout_minutes=_int(env.get("PHONEGATE_LOGIN_LOCKOUT_MINUTES"), 15, "PHONEGATE_LOGIN_LOCKOUT_MINUTES"),
            # --- Sign-in, sessions, headers and operations (issue 9, web security part).
            session_idle_minutes=_positive(env.get("PHONEGATE_SESSION_IDLE_MINUTES"), 30, "PHONEGATE_SESSION_IDLE_MINUTES"),
            session_max_hours=_positive(env.get("PHONEGATE_SESSION_MAX_HOURS"), 8, "PHONEGATE_SESSION_MAX_HOURS"),
            trust_proxy=_proxy_hops(env.get("PHONEGATE_TRUST_PROXY")),
            password_login=_choice(env.get("PHONEGATE_PASSWORD_LOGIN"), "all", ("all", "admins"), "PHONEGATE_PASSWORD_LOGIN"),
            oidc_issuer=(env.get("PHONEGATE_OIDC_ISSUER") or "").strip(),  # exact: some issuers end in "/"
            oidc_client_id=(env.get("PHONEGATE_OIDC_CLIENT_ID") or "").strip(),
            oidc_client_secret=env.get("PHONEGATE_OIDC_CLIENT_SECRET") or "",
            oidc_groups_claim=(env.get("PHONEGATE_OIDC_GROUPS_CLAIM") or "groups").strip(),
            oidc_email_claim=(env.get("PHONEGATE_OIDC_EMAIL_CLAIM") or "email").strip(),
            oidc_roles=env.get("PHONEGATE_OIDC_ROLES") or "",
            metrics_token=(env.get("PHONEGATE_METRICS_TOKEN") or "").strip(),
            log_format=_choice(env.get("PHONEGATE_LOG_FORMAT"), "text", ("text", "json"), "PHONEGATE_LOG_FORMAT"),
        )


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
    instance_path.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
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
