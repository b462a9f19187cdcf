"""The council's own sign-in: OpenID Connect (e.g. Microsoft Entra ID) with Authlib.

Authorization code flow with PKCE (S256), `state` and `nonce`, against PHONEGATE_OIDC_ISSUER. The provider's
discovery document must name exactly that issuer; the ID token is checked for its signature (the provider's
JWKS), issuer, audience (our client id), expiry and nonce. Who the person is in PhoneGate and which role they
get is decided in server/services/oidc_accounts.py. Every refusal is a page that says what to do, never a 500.
"""

from __future__ import annotations

import ipaddress
import logging
from urllib.parse import urlsplit

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, Flask, current_app, redirect, render_template, request, session, url_for
from joserfc.errors import JoseError

from phonegate.core.errors import BadInput
from server.extensions import db
from server.services import oidc_accounts
from server.settings import Settings, current_settings
from server.web.auth import start_session
from server.web.redirects import local_path, next_or

log = logging.getLogger(__name__)

oidc_bp = Blueprint("oidc", __name__)

CLIENT_NAME = "council"
EXTENSION = "phonegate.oidc"
NEXT_KEY = "oidc_next"
CLOCK_SKEW_SECONDS = 60  # leeway on exp/iat between the provider's clock and ours
PROVIDER_TIMEOUT_SECONDS = 10


def init_app(app: Flask) -> None:
    app.register_blueprint(oidc_bp)
    configure(app)


def configure(app: Flask) -> None:
    """Set up the provider's client from the app's settings (again, when a test gives the app new ones)."""
    settings: Settings = app.config["PHONEGATE"]
    app.extensions.pop(EXTENSION, None)
    if not settings.oidc_issuer:
        return
    _check_settings(settings)
    oauth = OAuth(app)
    client = oauth.register(
        CLIENT_NAME,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret or None,
        server_metadata_url=settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256",
                       "default_timeout": PROVIDER_TIMEOUT_SECONDS},
    )
    app.extensions[EXTENSION] = {"client": client, "rules": oidc_accounts.parse_role_rules(settings.oidc_roles)}


def is_configured() -> bool:
    return EXTENSION in current_app.extensions


def _check_settings(settings: Settings) -> None:
    if not settings.oidc_client_id:
        raise BadInput("PHONEGATE_OIDC_ISSUER is set but PHONEGATE_OIDC_CLIENT_ID is not.")
    parts = urlsplit(settings.oidc_issuer)
    if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(parts.hostname or "")):
        raise BadInput("PHONEGATE_OIDC_ISSUER must be an https:// address (plain http only on loopback, for tests).")
    oidc_accounts.parse_role_rules(settings.oidc_roles)  # a bad rule stops the start, not a sign-in


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _refused(message: str, status: int = 400):
    return render_template("account/sign_in_refused.html", message=message), status


def _client():
    return current_app.extensions[EXTENSION]["client"]


def _callback_url() -> str:
    public = current_settings().public_url.rstrip("/")
    path = url_for("oidc.callback")
    return public + path if public else url_for("oidc.callback", _external=True)


@oidc_bp.get("/login/council")
def start():
    if not is_configured():
        return _refused("Signing in with a council account is not set up on this PhoneGate.", 404)
    client = _client()
    try:
        metadata = client.load_server_metadata()
    except (requests.RequestException, ValueError):
        log.warning("the OpenID provider could not be reached for its discovery document")
        return _refused("The council's sign-in service cannot be reached just now. Try again in a few minutes.", 503)
    if metadata.get("issuer") != current_settings().oidc_issuer:
        client.server_metadata.pop("_loaded_at", None)  # read it again next time: it may be fixed by then
        log.warning("the OpenID provider's discovery document names another issuer than PHONEGATE_OIDC_ISSUER")
        return _refused("The council's sign-in service is not the one PhoneGate is set up for. "
                        "Ask a PhoneGate administrator to check PHONEGATE_OIDC_ISSUER.", 502)
    session[NEXT_KEY] = local_path(request.args.get("next"))
    return client.authorize_redirect(_callback_url())


@oidc_bp.get("/login/council/callback")
def callback():
    if not is_configured():
        return _refused("Signing in with a council account is not set up on this PhoneGate.", 404)
    settings = current_settings()
    # RFC 9207: a provider that names itself in the answer must be ours (a mix-up with another provider).
    if "iss" in request.args and request.args.get("iss") != settings.oidc_issuer:
        log.info("OpenID sign-in refused: the answer came from another issuer")
        return _refused("The answer did not come from the council's sign-in service. Try again from the log-in page.")
    if request.args.get("error"):
        return _refused("The council's sign-in service did not sign you in. Try again from the log-in page.")
    if len(request.query_string) > 4096:
        return _refused("The answer from the sign-in service was too long. Try again from the log-in page.")
    try:
        token = _client().authorize_access_token(
            claims_options={"iss": {"essential": True, "values": [settings.oidc_issuer]},
                            "exp": {"essential": True}, "iat": {"essential": True}},
            leeway=CLOCK_SKEW_SECONDS)
    except (AuthlibBaseError, JoseError, ValueError, KeyError) as exc:
        log.info("OpenID sign-in refused: %s", type(exc).__name__)
        return _refused("The sign-in could not be checked (it may have taken too long, or been started in "
                        "another window). Try again from the log-in page.")
    except requests.RequestException:
        log.warning("the OpenID provider could not be reached for the token")
        return _refused("The council's sign-in service cannot be reached just now. Try again in a few minutes.", 503)
    claims = token.get("userinfo")
    if not claims:
        return _refused("The council's sign-in service did not send an ID token. Ask a PhoneGate administrator.")
    identity = oidc_accounts.Identity.from_claims(dict(claims), email_claim=settings.oidc_email_claim,
                                                  groups_claim=settings.oidc_groups_claim)
    try:
        user = oidc_accounts.sign_in_user(db.session, identity, current_app.extensions[EXTENSION]["rules"])
    except oidc_accounts.Refused as refusal:
        db.session.commit()  # the refusal's audit entry, and any sessions it ended
        log.info("OpenID sign-in refused: %s", refusal.reason)
        return _refused(refusal.message, 403)
    next_path = session.get(NEXT_KEY)
    start_session(user, "oidc")
    db.session.commit()
    if user.must_change_password and user.password_hash:
        return redirect(url_for("auth.change_password"))
    return redirect(next_or(next_path, url_for("pages.dashboard")))
