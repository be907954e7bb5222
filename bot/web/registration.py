"""Finishing a chat registration: the page the mailed one-time link opens.

Opening the link (GET) only shows a button, and a checkbox (unticked) asking for
updates about orders; the account is created by the form's POST. Mail scanners that fetch every link in a message therefore cannot use a link
up, and a page from elsewhere cannot post it (the form token is this session's).
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask.typing import ResponseReturnValue

from bot.services.registration import Confirmation, confirm_registration
from bot.settings import Settings
from bot.web.database import session_factory
from bot.web.security import check_form_token

bp = Blueprint("registration", __name__)

STATUS = {
    Confirmation.CONFIRMED: 200,
    Confirmation.ACCOUNT_EXISTS: 409,
    Confirmation.USED: 410,
    Confirmation.EXPIRED: 410,
    Confirmation.INVALID: 404,
}


@bp.get("/register/confirm/<token>")
def confirm_page(token: str) -> ResponseReturnValue:
    return render_template("register_confirm.html", token=token, outcome=None)


@bp.post("/register/confirm/<token>")
def confirm(token: str) -> ResponseReturnValue:
    check_form_token()
    settings: Settings = current_app.config["SETTINGS"]
    with session_factory().begin() as session:
        result = confirm_registration(
            session,
            token,
            current_app.config["SECRET_KEY"],
            settings.default_phone_region,
            # A checkbox left unticked sends nothing: that is a no.
            updates=request.form.get("updates") == "yes",
        )
    page = render_template(
        "register_confirm.html",
        token=token,
        outcome=result.outcome.value,
        name=result.name,
        reset_url=settings.password_reset_url,
    )
    return page, STATUS[result.outcome]
