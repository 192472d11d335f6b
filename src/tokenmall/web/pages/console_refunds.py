"""The console's refund actions on an order's page: approve or refuse a requested refund, ask
the payment channel about one still processing, try a failed one again, or (an admin) abandon
it with a reason. The same use cases as the API (``services/mall/order_refunds.py`` and
``services/mall/refund_channel.py``); after each the order's page says how the refund stands.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy import Connection
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException

from tokenmall.domain.mall.refunds import Refund, RefundStatus
from tokenmall.services.mall import order_refunds, refund_channel
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import InvalidInput
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.web.api.payment_channels import order_gateway
from tokenmall.web.pages import forms
from tokenmall.web.pages.console import _optional_text, order_post
from tokenmall.web.pages.errors import PageRoute

router = APIRouter(route_class=PageRoute, include_in_schema=False)

_REFUND_ACTIONS = ("approve", "reject", "query", "retry", "abandon")


def _refund_done(refund: Refund) -> str:
    """The flash after a refund's action: how the refund stands now."""
    if refund.status == RefundStatus.SUCCEEDED:
        return "approved"
    if refund.status == RefundStatus.REJECTED:
        return "rejected"
    return f"refund_{refund.status}"


@router.post("/{tenant_id}/admin/orders/{order_id}/refunds/{refund_id}/{decision}")
async def refund_decide(
    request: Request, tenant_id: str, order_id: str, refund_id: str, decision: str
) -> Response:
    """A refund's actions in the console: approve or refuse a requested one; ask the channel
    about one still processing; try a failed one again, or (an admin) abandon it."""
    if decision not in _REFUND_ACTIONS:
        raise HTTPException(404)

    def act(conn: Connection, caller: Principal, form: FormData) -> str:
        uow = MallUnitOfWork.joining(conn)
        now = utc_now()
        refund: Refund
        if decision == "reject":
            note = _optional_text(form, "note")
            if note is None:
                raise InvalidInput("give the reason for refusing the refund", "note")
            refund = order_refunds.reject_refund(
                uow, caller, tenant_id, order_id, refund_id, note=note, now=now
            )
        elif decision == "abandon":
            reason = forms.text_field(form, "reason")
            refund = refund_channel.abandon_refund(
                uow, caller, tenant_id, order_id, refund_id, reason=reason, now=now
            )
        else:
            gateway = order_gateway(request, tenant_id, uow=uow)
            if decision == "approve":
                _, refund = order_refunds.approve_refund(
                    uow,
                    caller,
                    tenant_id,
                    order_id,
                    refund_id,
                    note=_optional_text(form, "note"),
                    gateway=gateway,
                    now=now,
                )
            elif decision == "retry":
                _, refund = refund_channel.retry_refund(
                    uow, caller, tenant_id, order_id, refund_id, gateway=gateway, now=now
                )
            else:
                refund = refund_channel.query_refund(
                    uow, caller, tenant_id, order_id, refund_id, gateway=gateway, now=now
                )
        return f"/{tenant_id}/admin/orders/{order_id}?done={_refund_done(refund)}"

    return await order_post(request, tenant_id, order_id, act)
