"""Request-forgery protection (form tokens, same-origin JSON) and security headers.

Forms carry a per-session token. The JSON API needs no token: a cross-site page can
only send a `Content-Type: application/json` POST after a CORS preflight, which this
app never approves, and the Origin (or Referer) must be this app's own.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from flask import Flask, Request, abort, request, session
from werkzeug.wrappers import Response

TOKEN_KEY = "csrf_token"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def new_csrf_token() -> str:
    """Issue a new form token for this session (on sign-in) and return it."""
    token = session[TOKEN_KEY] = secrets.token_urlsafe(32)
    session.permanent = True
    return token


def csrf_token() -> str:
    """This session's form token (created on first use)."""
    token = session.get(TOKEN_KEY)
    return token if isinstance(token, str) else new_csrf_token()


def check_form_token() -> None:
    """Abort with 400 unless the submitted form carries this session's token."""
    sent = request.form.get(TOKEN_KEY, "")
    token = session.get(TOKEN_KEY)
    if not isinstance(token, str) or not hmac.compare_digest(
        sent.encode(), token.encode()
    ):
        abort(400, description="The form expired; reload the page and try again.")


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_origin(req: Request) -> bool:
    """True when the request's Origin (or, without one, Referer) is this app."""
    own = _origin(req.host_url)
    claimed = req.headers.get("Origin") or req.headers.get("Referer")
    return own is not None and claimed is not None and _origin(claimed) == own


def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # Same-origin requests keep their Referer (the fallback for same_origin()).
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def init_app(app: Flask) -> None:
    """Expose csrf_token() to templates and add security headers to responses."""
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.after_request(_headers)
