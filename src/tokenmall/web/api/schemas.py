"""Request and response models of the API, apart from the services' records.

Requests refuse unknown fields and coerce nothing (``strict``): a JSON number where a decimal
string belongs is refused, as is ``"3"`` where a whole number belongs. Money is a decimal
string both ways, parsed by ``domain.money`` in the services (one parser, clear messages).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tokenmall.domain.mall.catalogue import Merchant, Product, Sku, StockMovement
from tokenmall.domain.mall.people import ApiKey, User
from tokenmall.domain.mall.tenants import ParamsChange, Tenant
from tokenmall.domain.money import format_money
from tokenmall.services.mall import validate

Role = Literal["consumer", "merchant", "admin"]
KycStatus = Literal["none", "pending", "verified", "rejected"]
ScopeName = Literal["integration", "read", "admin"]
MoneyText = Annotated[
    str,
    Field(
        max_length=40,
        description='Money as a decimal string with at most 2 places, such as "12.50"',
        examples=["12.50"],
    ),
]
Quantity = Annotated[int, Field(description="A whole number of units")]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _no_control_characters(cls, data: Any) -> Any:
        # Control characters (NUL included) are refused in every text, at the edge: 422
        # naming the field (raised past pydantic, which lets a non-ValueError through).
        validate.refuse_control(data)
        return data


class Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- sign-in ---


class LoginIn(Request):
    email: Annotated[str, Field(max_length=254)]
    password: Annotated[str, Field(max_length=256)]


class PasswordChangeIn(Request):
    old_password: Annotated[str, Field(max_length=256)]
    new_password: Annotated[str, Field(max_length=256)]


class PasswordSetIn(Request):
    new_password: Annotated[str, Field(max_length=256)]


class ResetRequestIn(Request):
    email: Annotated[str, Field(max_length=254)]


class ResetConfirmIn(Request):
    token: Annotated[str, Field(max_length=200)]
    new_password: Annotated[str, Field(max_length=256)]


class SessionsRevokedOut(Response):
    sessions_revoked: int


class ResetRequestedOut(Response):
    status: Literal["requested"] = "requested"


class TokenOut(Response):
    token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime


# --- tenants ---


class AdminIn(Request):
    email: Annotated[str, Field(max_length=254)]
    password: Annotated[str, Field(max_length=256)]
    display_name: Annotated[str, Field(max_length=100)] = ""


class TenantIn(Request):
    tenant_id: Annotated[str, Field(max_length=32, examples=["acme"])]
    name: Annotated[str, Field(max_length=200)]
    preset: Literal["default", "seed"] = "default"
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Economy parameters to change from the preset (decimals as strings)",
    )
    admin: AdminIn


class ParamsIn(Request):
    params: dict[str, Any] = Field(description="Parameters to change; the whole set is checked")
    params_version: int | None = Field(
        default=None, description="Refuse (409) unless the parameters are still at this version"
    )


class TenantOut(Response):
    tenant_id: str
    name: str
    params: dict[str, Any]
    params_version: int
    created_at: datetime

    @classmethod
    def of(cls, tenant: Tenant) -> TenantOut:
        return cls(
            tenant_id=tenant.tenant_id,
            name=tenant.name,
            params=tenant.params,
            params_version=tenant.params_version,
            created_at=tenant.created_at,
        )


class ParamsChangeOut(Response):
    params_version: int
    params: dict[str, Any]
    changed_by: str
    changed_at: datetime

    @classmethod
    def of(cls, change: ParamsChange) -> ParamsChangeOut:
        return cls(
            params_version=change.params_version,
            params=change.params,
            changed_by=change.changed_by,
            changed_at=change.changed_at,
        )


# --- people ---


class UserOut(Response):
    user_id: str
    email: str
    display_name: str
    role: Role
    kyc_status: KycStatus
    invite_code: str
    inviter_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            user_id=user.user_id,
            email=user.email,
            display_name=user.display_name,
            role=user.role.value,
            kyc_status=user.kyc_status.value,
            invite_code=user.invite_code,
            inviter_id=user.inviter_id,
            created_at=user.created_at,
        )


class TenantCreatedOut(Response):
    tenant: TenantOut
    admin: UserOut


class RegisterIn(Request):
    email: Annotated[str, Field(max_length=254)]
    password: Annotated[str, Field(max_length=256)]
    display_name: Annotated[str, Field(max_length=100)] = ""
    invite_code: Annotated[str | None, Field(max_length=16)] = None


class SessionOut(TokenOut):
    user: UserOut


class UserIn(Request):
    email: Annotated[str, Field(max_length=254)]
    password: Annotated[str, Field(max_length=256)]
    display_name: Annotated[str, Field(max_length=100)] = ""
    role: Role


class UserPatch(Request):
    role: Role | None = None
    kyc_status: KycStatus | None = None


class ApiKeyIn(Request):
    name: Annotated[str, Field(max_length=100)]
    scopes: list[ScopeName] | None = Field(
        default=None,
        max_length=3,
        description="What the key may do: integration (push and read integration orders), "
        "read, admin (everything its user may do). Default: integration only",
    )


class ApiKeyOut(Response):
    key_id: str
    user_id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None
    scopes: list[ScopeName]

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyOut:
        return cls(
            key_id=key.key_id,
            user_id=key.user_id,
            name=key.name,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
            scopes=sorted(key.scopes),  # type: ignore[arg-type]
        )


class ApiKeyCreatedOut(Response):
    key: ApiKeyOut
    token: str | None = Field(
        description="The key, shown once; null when this is a replay of the creating request"
    )


# --- catalogue ---


class MerchantIn(Request):
    name: Annotated[str, Field(max_length=200)]
    owner_user_id: Annotated[str, Field(max_length=40)]


class MerchantOut(Response):
    merchant_id: str
    name: str
    owner_user_id: str
    created_at: datetime

    @classmethod
    def of(cls, merchant: Merchant) -> MerchantOut:
        return cls(
            merchant_id=merchant.merchant_id,
            name=merchant.name,
            owner_user_id=merchant.owner_user_id,
            created_at=merchant.created_at,
        )


class ProductIn(Request):
    merchant_id: Annotated[str | None, Field(max_length=40)] = Field(
        default=None, description="Defaults to the merchant the caller owns"
    )
    title: Annotated[str, Field(max_length=200)]
    description: Annotated[str, Field(max_length=5000)] = ""


class ProductPatch(Request):
    title: Annotated[str | None, Field(max_length=200)] = None
    description: Annotated[str | None, Field(max_length=5000)] = None
    status: Literal["active", "hidden"] | None = None


class SkuIn(Request):
    name: Annotated[str, Field(max_length=200)]
    price: MoneyText
    stock: Quantity = 0
    pool_contribution: MoneyText | None = Field(
        default=None,
        description="Fixed money per unit sold to the backing pool (the seed's 30 of 100); "
        "null: the tenant's pool_rate applies",
    )


class SkuPatch(Request):
    name: Annotated[str | None, Field(max_length=200)] = None
    price: MoneyText | None = None
    pool_contribution: MoneyText | None = Field(
        default=None, description='A new fixed contribution, or "" to go back to pool_rate'
    )


class SkuOut(Response):
    sku_id: str
    product_id: str
    name: str
    price: str
    stock: int
    pool_contribution: str | None
    created_at: datetime

    @classmethod
    def of(cls, sku: Sku) -> SkuOut:
        contribution = sku.pool_contribution_fen
        return cls(
            sku_id=sku.sku_id,
            product_id=sku.product_id,
            name=sku.name,
            price=format_money(sku.price_fen),
            stock=sku.stock,
            pool_contribution=None if contribution is None else format_money(contribution),
            created_at=sku.created_at,
        )


class ProductOut(Response):
    product_id: str
    merchant_id: str
    title: str
    description: str
    status: Literal["active", "hidden"]
    created_at: datetime

    @classmethod
    def of(cls, product: Product) -> ProductOut:
        return cls(
            product_id=product.product_id,
            merchant_id=product.merchant_id,
            title=product.title,
            description=product.description,
            status=product.status.value,
            created_at=product.created_at,
        )


class ProductDetailOut(ProductOut):
    skus: list[SkuOut]


class StockChangeIn(Request):
    change: Quantity = Field(description="Units to add (positive) or take (negative)")
    reason: Literal["restock", "adjustment"]
    reference: Annotated[str | None, Field(max_length=100)] = None


class StockMovementOut(Response):
    movement_id: str
    sku_id: str
    change: int
    stock_after: int
    reason: str
    reference: str | None
    created_at: datetime

    @classmethod
    def of(cls, movement: StockMovement) -> StockMovementOut:
        return cls(
            movement_id=movement.movement_id,
            sku_id=movement.sku_id,
            change=movement.change,
            stock_after=movement.stock_after,
            reason=movement.reason,
            reference=movement.reference,
            created_at=movement.created_at,
        )


# --- lists ---


class TenantPage(Response):
    items: list[TenantOut]
    next_after: str | None


class UserPage(Response):
    items: list[UserOut]
    next_after: str | None


class MerchantPage(Response):
    items: list[MerchantOut]
    next_after: str | None


class ProductPage(Response):
    items: list[ProductOut]
    next_after: str | None


class ApiKeyList(Response):
    items: list[ApiKeyOut]


class StockMovementList(Response):
    items: list[StockMovementOut]


class ParamsHistoryOut(Response):
    items: list[ParamsChangeOut]


class Health(Response):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(default_factory=dict)
