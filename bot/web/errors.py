"""Errors no blueprint handles (an unknown path, a wrong method): JSON for the APIs.

Flask matches the URL before it knows the blueprint, so a path under an API that
matches no route never reaches the blueprint's error handlers and would get an
HTML page; API clients get the same ``{"error", "message"}`` body as every other
API error instead. Pages keep Flask's plain answer.
"""

from __future__ import annotations

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, MethodNotAllowed

API_PREFIXES = ("/chat/api/", "/console/api/", "/api/")
_CODES = {404: "not_found", 405: "method_not_allowed"}


def init_app(app: Flask) -> None:
    """Register the handler for unknown paths and methods."""
    # By class, not by status code: Flask tries every handler registered for a
    # code before any registered for a class, so a 404 handler here would win
    # over the console blueprint's own (HTTPException) pages.
    app.register_error_handler(HTTPException, _unmatched)


def _unmatched(exc: HTTPException) -> ResponseReturnValue:
    if (
        request.url_rule is not None
        or exc.code not in _CODES
        or not request.path.startswith(API_PREFIXES)
    ):
        return exc
    status = exc.code
    message = (
        "No such API endpoint."
        if status == 404
        else f"{request.method} is not allowed here."
    )
    response = jsonify(error=_CODES[status], message=message)
    response.status_code = status
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response
