"""How requests arrive, and the security headers on every response: pages, the JSON API, and operations.

Behind the council's reverse proxy, PHONEGATE_TRUST_PROXY=N (the number of proxies in front) makes werkzeug's
ProxyFix believe their X-Forwarded-For, -Proto, -Host and -Port, so the client's address (rate limits), HTTPS
(HSTS, Secure cookies) and the public host are right. Without it those headers are ignored: anyone can send
them. HSTS is sent only on a request that came over HTTPS, as the standard asks.
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

HSTS = "max-age=31536000"  # a year; no includeSubDomains: the council's other hosts are not ours to decide
# Pages: the template's one inline script (the js-enabled class) carries the nonce; nothing else is inline.
PAGE_CSP = ("default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# JSON, CSV and the rest: nothing in them may run, load or be framed, even if a browser is tricked into rendering one.
DATA_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox"


def init_app(app: Flask) -> None:
    hops = app.config["PHONEGATE"].trust_proxy
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)  # type: ignore[method-assign]
    app.after_request(security_headers)


def csp_nonce() -> str:
    if "_csp_nonce" not in g:
        g._csp_nonce = secrets.token_urlsafe(16)
    return g._csp_nonce


def security_headers(response: Response) -> Response:
    headers = response.headers
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", HSTS)
    if response.mimetype == "text/html":
        headers.setdefault("Content-Security-Policy", PAGE_CSP.format(nonce=csp_nonce()))
    else:
        headers.setdefault("Content-Security-Policy", DATA_CSP)
    # Everything dynamic is someone's data (or an answer about it); the static assets set their own caching.
    if "Cache-Control" not in headers:
        headers["Cache-Control"] = "no-store"
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    return response
