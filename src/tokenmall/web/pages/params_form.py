"""The economy parameters as a form: each field's text, and the changes a posted form asks for.

Validation is ``Params.updated``'s (through ``services.mall.tenants.parse_params``), the one
validator: this module only turns form text into the outside values the API also takes (decimal
strings, lists of them, booleans, choices) and keeps only the fields that changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from starlette.datastructures import FormData

from tokenmall.domain.economy.params import DIVIDEND_WEIGHTS, GRANT_ON, SELL_FEE_TO, Params
from tokenmall.services.figures import current_params
from tokenmall.services.mall.errors import InvalidInput
from tokenmall.services.mall.tenants import parse_params
from tokenmall.web.pages import figures
from tokenmall.web.pages.forms import FormState


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    kind: str  # "decimal", "list", "choice", "flag"
    label: str  # an English msgid, translated by the template
    help: str
    choices: tuple[str, ...] = ()


FIELDS: tuple[Field, ...] = (
    Field("initial_price", "decimal", "Initial price", "yuan per point before any sale"),
    Field("pool_rate", "decimal", "Pool rate", "share of each sale to the backing pool"),
    Field("grant_rate", "decimal", "Grant rate", "share of the contribution granted to the buyer"),
    Field(
        "referral_rates", "list", "Referral rates", "per level, comma-separated, at most 3 levels"
    ),
    Field("dividend_rate", "decimal", "Dividend rate", "share of each sale to the dividend pool"),
    Field("quota_multiple", "decimal", "Quota multiple", "dividend quota per 1.00 spent"),
    Field("sell_fee_rate", "decimal", "Sell fee rate", "fee kept when points are sold back"),
    Field(
        "sell_fee_to",
        "choice",
        "Sell fee to",
        "where the fee on points sold back goes",
        SELL_FEE_TO,
    ),
    Field("convert_fee_rate", "decimal", "Convert fee rate", "fee kept on conversion"),
    Field(
        "max_supply",
        "decimal",
        "Max supply",
        "points that may ever be minted; after the first grant it can only be lowered",
    ),
    Field("share_unit", "decimal", "Share unit", "spend per share (yuan)"),
    Field("dividend_weight", "choice", "Dividend weight", "", DIVIDEND_WEIGHTS),
    Field(
        "forced_exit",
        "flag",
        "Forced exit",
        "after each day's dividend, buy back all points of a holder whose points are worth at "
        "least their remaining quota (merchants and the treasury never)",
    ),
    Field("grant_on", "choice", "Grant on", "when an order's rewards are booked", GRANT_ON),
    Field(
        "commission_rates",
        "list",
        "Commission rates",
        "money commissions per level, at most 3 levels",
    ),
)


def texts(params: Params) -> dict[str, str]:
    """Each field's text in the form."""
    public = params.to_public()
    out: dict[str, str] = {}
    for f in FIELDS:
        value = public[f.name]
        if f.kind == "list":
            out[f.name] = ", ".join(value)
        elif f.kind == "flag":
            out[f.name] = "true" if value else "false"
        else:
            out[f.name] = str(value)
    return out


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace("，", ",").split(",") if part.strip()]


def changes(current: Params, form: FormData) -> dict[str, Any]:
    """The outside values of the fields the form changed (unchanged fields are left out)."""
    now = texts(current)
    found: dict[str, Any] = {}
    for f in FIELDS:
        sent = form.get(f.name)
        if not isinstance(sent, str):
            continue
        sent = sent.strip()
        if f.kind == "list":
            if _split(sent) != _split(now[f.name]):
                found[f.name] = _split(sent)
        elif sent != now[f.name]:
            if f.kind == "flag":
                if sent not in ("true", "false"):
                    raise InvalidInput("must be true or false", f.name)
                found[f.name] = sent == "true"
            else:
                found[f.name] = sent
    return found


def proposed(current: Params, wanted: dict[str, Any]) -> Params:
    """The parameter set the changes make; InvalidInput names the bad field (without the
    ``params.`` prefix the API uses)."""
    try:
        return parse_params(current, wanted)
    except InvalidInput as exc:
        name = (exc.field or "").removeprefix("params.")
        raise InvalidInput(str(exc), name or None) from None


# -- the parameter pages' steps (a tenant's admins' page and the platform's tenant page) --------


def version_of(form: FormData) -> int:
    """The ``params_version`` the form was drawn from (a stale one is refused later, 409)."""
    value = form.get("params_version")
    text = value if isinstance(value, str) else ""
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise InvalidInput("the form is missing its parameters version", "_form")
    return int(text)


def preview_of(conn: Connection, tenant_id: str, form: FormData) -> dict[str, Any]:
    """The effect of the form's parameters (validated as a whole), changing nothing."""
    current, _ = current_params(conn, tenant_id)
    return figures.preview(conn, tenant_id, proposed(current, changes(current, form)))


def to_apply(conn: Connection, tenant_id: str, form: FormData) -> dict[str, Any]:
    """The changes the form asks for, validated as a whole before anything is written (the
    field at fault named); refused when nothing changed."""
    current, _ = current_params(conn, tenant_id)
    wanted = changes(current, form)
    proposed(current, wanted)
    if not wanted:
        raise InvalidInput("nothing changed", "_form")
    return wanted


def form_level_errors(state: FormState) -> None:
    """Messages about the version or the set as a whole go at the top of the form."""
    state.move_errors({"params_version": "_form", "params": "_form"})
