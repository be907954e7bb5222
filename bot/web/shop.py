"""The demo shop: a product page with the chat widget, and demo sign-in."""

from __future__ import annotations

from dataclasses import dataclass

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue

from bot.web import auth
from bot.web.conversation import conversation_id
from bot.web.database import session_factory
from bot.web.security import check_form_token

bp = Blueprint("shop", __name__)


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price_cents: int
    blurb: str
    tint: str  # tile colour: the demo ships no images

    @property
    def price(self) -> str:
        return f"${self.price_cents / 100:,.2f}"


PRODUCTS = (
    Product("LMP-201", "Brass desk lamp", 4900, "Warm light, solid brass.", "#e9c46a"),
    Product("MUG-002", "Stoneware mug", 900, "Glazed by hand, 350 ml.", "#8ab17d"),
    Product(
        "KTL-300", "Electric kettle", 3900, "Boils a litre in 3 minutes.", "#90a8c3"
    ),
    Product(
        "RUG-120", "Wool rug 120x170", 12900, "Flat-woven, undyed wool.", "#d4a373"
    ),
    Product("JKT-440", "Rain jacket", 8900, "Light, packable, taped seams.", "#2a9d8f"),
    Product("SPK-120", "Bluetooth speaker", 5900, "Twelve hours of music.", "#e76f51"),
)


def _page(
    error: str | None = None, email: str = "", status: int = 200
) -> ResponseReturnValue:
    conversation_id()  # issue it now, before the widget's requests race to do so
    with session_factory()() as db:
        customer = auth.signed_in_customer(db)
        name = customer.name if customer else None
    html = render_template(
        "shop.html",
        products=PRODUCTS,
        customer_name=name,
        error=error,
        email=email,
        settings=current_app.config["SETTINGS"],
    )
    return html, status


@bp.get("/")
def home() -> ResponseReturnValue:
    return _page()


@bp.post("/shop/login")
def login() -> ResponseReturnValue:
    """Sign in a demo customer (password "demo") and return to the shop."""
    check_form_token()
    email = request.form.get("email", "")
    with session_factory()() as db:
        customer = auth.authenticate(db, email, request.form.get("password", ""))
    if customer is None:
        return _page("Wrong email or password.", email=email.strip(), status=401)
    auth.sign_in(customer)
    return redirect(url_for("shop.home"))


@bp.get("/shop/login")
def login_page() -> ResponseReturnValue:
    return redirect(url_for("shop.home") + "#sign-in")


@bp.post("/shop/logout")
def logout() -> ResponseReturnValue:
    check_form_token()
    auth.sign_out()
    return redirect(url_for("shop.home"))
