"""Merchants, their products and SKUs, and every change of a SKU's stock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ProductStatus(StrEnum):
    ACTIVE = "active"
    HIDDEN = "hidden"


class StockReason(StrEnum):
    RESTOCK = "restock"
    ADJUSTMENT = "adjustment"
    RESERVATION = "reservation"
    RELEASE = "release"


@dataclass(frozen=True, slots=True)
class Merchant:
    tenant_id: str
    merchant_id: str
    name: str
    owner_user_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Product:
    tenant_id: str
    product_id: str
    merchant_id: str
    title: str
    description: str
    status: ProductStatus
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Sku:
    tenant_id: str
    sku_id: str
    product_id: str
    name: str
    price_fen: int
    stock: int
    pool_contribution_fen: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StockMovement:
    tenant_id: str
    movement_id: str
    sku_id: str
    change: int
    stock_after: int
    reason: StockReason
    reference: str | None
    created_at: datetime
