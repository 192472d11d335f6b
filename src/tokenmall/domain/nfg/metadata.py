"""A token's metadata in the common NFT metadata shape (name, description, image, attributes).

``name`` is ``<collection> #k/N``; the attributes carry the serial, the edition size, the
token's state, the issuer and each right the collection grants. The image is an absolute URL
the caller gives (the collection's media, or None when it has none).
"""

from __future__ import annotations

from tokenmall.domain.nfg.records import Collection, Token


def display_serial(serial: int, edition_size: int) -> str:
    return f"#{serial}/{edition_size}"


def token_name(collection: Collection, serial: int) -> str:
    return f"{collection.name} {display_serial(serial, collection.edition_size)}"


def rights_attributes(collection: Collection) -> list[dict[str, object]]:
    rights = collection.rights
    out: list[dict[str, object]] = [
        {"trait_type": "may_buy", "value": sku} for sku in rights.may_buy
    ]
    if rights.discount_bps is not None:
        out.append(
            {"trait_type": "discount_bps", "value": rights.discount_bps, "display_type": "number"}
        )
    if rights.voucher_sku_id is not None:
        out.append({"trait_type": "voucher", "value": rights.voucher_sku_id})
    if rights.entry is not None:
        out.append({"trait_type": "entry", "value": rights.entry})
    return out


def token_metadata(
    collection: Collection,
    token: Token,
    *,
    image: str | None,
    external_url: str | None = None,
) -> dict[str, object]:
    """The metadata document of ``token`` (a token of ``collection``)."""
    attributes: list[dict[str, object]] = [
        {"trait_type": "serial", "value": token.serial, "display_type": "number"},
        {
            "trait_type": "edition_size",
            "value": collection.edition_size,
            "display_type": "number",
        },
        {"trait_type": "state", "value": str(token.state)},
        {"trait_type": "issuer", "value": collection.issuer_merchant_id or collection.tenant_id},
        *rights_attributes(collection),
    ]
    document: dict[str, object] = {
        "name": token_name(collection, token.serial),
        "description": collection.description,
        "image": image,
        "attributes": attributes,
    }
    if external_url is not None:
        document["external_url"] = external_url
    return document
