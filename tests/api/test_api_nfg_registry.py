"""The NFG registry over real HTTP (SQLite and PostgreSQL): collections, media, grants,
tokens, transfers, metadata; every bad input refused naming its field with nothing changed;
concurrent transfers of one token; ``log verify`` finding a token owner edited by hand."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from mall_api import Api, TenantFixture, make_tenant, ok
from nfg_helpers import (
    collection_body,
    counts,
    create,
    error_of,
    grant,
    jpeg_with_exif,
    log_verify,
    png,
    published,
    store_of,
    token_row,
    upload,
)
from PIL import Image
from sqlalchemy import update

from tokenmall.adapters.db.nfg.tables import nfg_tokens
from tokenmall.domain.nfg.records import MAX_EDITION_SIZE
from tokenmall.services.images import MAX_BYTES


def test_create_publish_grant_list_and_metadata(api: Api, tenant: TenantFixture) -> None:
    t = tenant
    media = ok(upload(api, t, png()), 201)
    assert media["content_type"] == "image/png"
    assert (media["width"], media["height"]) == (640, 480)
    rights = {"may_buy": [t.sku_id], "discount_bps": 500, "entry": "VIP lounge"}
    made = create(api, t, media_id=media["media_id"], linked_sku_id=t.sku_id, rights=rights)
    cid = made["collection_id"]
    assert made["status"] == "draft"
    assert made["price"] == "99.00"
    assert made["issuer"] == t.tenant_id
    assert made["rights"] == rights
    # A draft is seen by admins only.
    public = ok(api.get(t.path("/nfg/collections")))
    assert cid not in [c["collection_id"] for c in public["collections"]]
    assert api.get(t.path(f"/nfg/collections/{cid}"), t.consumer_token).status_code == 404
    listed = ok(api.get(t.path("/nfg/collections"), t.admin_token))
    assert cid in [c["collection_id"] for c in listed["collections"]]
    ok(api.post(t.path(f"/nfg/collections/{cid}/publish"), t.admin_token))
    public = ok(api.get(t.path("/nfg/collections")))
    assert [c["collection_id"] for c in public["collections"]] == [cid]
    # Granted to the consumer by email: serials 1 and 2.
    tokens = grant(api, t, cid, 2, email="BUYER@shop.test")
    assert [(x["serial"], x["display"], x["owner_id"]) for x in tokens] == [
        (1, "#1/10", t.consumer_id),
        (2, "#2/10", t.consumer_id),
    ]
    assert tokens[0]["certificate_url"] == f"/{t.tenant_id}/c/{cid}/1"
    mine = ok(api.get(t.path("/nfg/tokens/mine"), t.consumer_token))
    assert [x["token"] for x in mine["tokens"]] == [f"{cid}/1", f"{cid}/2"]
    assert ok(api.get(t.path("/nfg/tokens/mine"), t.merchant_token))["tokens"] == []
    detail = ok(api.get(t.path(f"/nfg/tokens/{cid}/1"), t.consumer_token))
    assert detail["state"] == "held"
    assert [(h["type"], h["fields"]["to"]) for h in detail["history"]] == [("mint", t.consumer_id)]
    of_collection = ok(api.get(t.path(f"/nfg/collections/{cid}/tokens"), t.admin_token))
    assert [x["serial"] for x in of_collection["tokens"]] == [1, 2]
    got = ok(api.get(t.path(f"/nfg/collections/{cid}")))
    assert (got["minted"], got["available"]) == (2, 8)
    # Public metadata, no login.
    meta = ok(api.get(t.path(f"/nfg/tokens/{cid}/2/metadata")))
    assert meta["name"] == "2020 Reserve #2/10"
    assert meta["description"] == "A numbered bottle of the 2020 vintage"
    assert meta["image"] == f"{api.http.base_url}{t.path('/nfg/media/' + media['media_id'])}"
    traits = {(a["trait_type"], a["value"]) for a in meta["attributes"]}
    assert {("serial", 2), ("edition_size", 10), ("state", "held")} <= traits
    assert {("may_buy", t.sku_id), ("discount_bps", 500), ("entry", "VIP lounge")} <= traits
    image = api.get(meta["image"])
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert "max-age" in image.headers["cache-control"]
    assert Image.open(io.BytesIO(image.content)).size == (640, 480)
    again = api.get(meta["image"], headers={"If-None-Match": image.headers["etag"]})
    assert again.status_code == 304
    thumb = api.get(meta["image"] + "/thumbnail")
    assert thumb.headers["content-type"] == "image/png"
    assert max(Image.open(io.BytesIO(thumb.content)).size) == 320
    # The log holds the collection's creation and the mints.
    leaves = ok(api.get(t.path("/log/entries?start=0&end=100")))["entries"]
    assert len(leaves) == 3


def test_a_jpeg_is_re_encoded_without_its_metadata(api: Api, tenant: TenantFixture) -> None:
    t = tenant
    data = jpeg_with_exif()
    assert b"SecretCamera" in data
    media = ok(upload(api, t, data, "photo.jpg", token=t.merchant_token), 201)
    assert media["content_type"] == "image/jpeg"
    stored = api.get(t.path(f"/nfg/media/{media['media_id']}"))
    assert stored.headers["content-type"] == "image/jpeg"
    assert b"SecretCamera" not in stored.content
    assert Image.open(io.BytesIO(stored.content)).size == (400, 300)


def test_media_not_an_image_or_too_big_is_refused_and_nothing_stored(
    api: Api, tenant: TenantFixture, server: Any
) -> None:
    t = tenant
    before = counts(server, t.tenant_id)
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, "GIF")
    big = png() + b"\0" * (MAX_BYTES + 1)
    truncated = png()[:200]
    for data in (b"not an image at all", b"", gif.getvalue(), truncated, big):
        answer = upload(api, t, data)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["field"] == "file", answer.text
    assert upload(api, t, png(), token=t.consumer_token).status_code == 403
    assert counts(server, t.tenant_id) == before


def test_edition_size_out_of_range_is_refused_and_nothing_created(
    api: Api, tenant: TenantFixture, server: Any
) -> None:
    t = tenant
    before = counts(server, t.tenant_id)
    for size in (0, -1, MAX_EDITION_SIZE + 1):
        answer = api.post(
            t.path("/nfg/collections"), t.admin_token, json=collection_body(edition_size=size)
        )
        assert error_of(answer) == (422, "invalid_input", "edition_size"), answer.text
    bad = {
        "price": ("12.345", "price"),
        "per_user_limit": (0, "per_user_limit"),
        "name": ("  ", "name"),
        "media_id": ("med_nothing", "media_id"),
        "allow_list": (["usr_nobody"], "allow_list"),
        "rights": ({"discount_bps": 0}, "rights.discount_bps"),
    }
    for name, (value, field) in bad.items():
        answer = api.post(
            t.path("/nfg/collections"), t.admin_token, json=collection_body(**{name: value})
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["field"] == field, answer.text
    assert counts(server, t.tenant_id) == before
    assert ok(api.get(t.path("/nfg/collections"), t.admin_token))["collections"] == []


def test_a_right_or_linked_sku_of_another_tenant_is_refused(
    api: Api, tenant: TenantFixture, other_tenant: TenantFixture, server: Any
) -> None:
    t, other = tenant, other_tenant
    before = counts(server, t.tenant_id)
    cases = [
        ({"rights": {"may_buy": [other.sku_id]}}, "rights.may_buy"),
        ({"rights": {"voucher": other.sku_id}}, "rights.voucher"),
        ({"linked_sku_id": other.sku_id}, "linked_sku_id"),
    ]
    for extra, field in cases:
        answer = api.post(t.path("/nfg/collections"), t.admin_token, json=collection_body(**extra))
        assert error_of(answer) == (422, "invalid_input", field), answer.text
    assert counts(server, t.tenant_id) == before
    # Editing a draft to point at another tenant's SKU is refused the same way.
    cid = create(api, t)["collection_id"]
    path = t.path(f"/nfg/collections/{cid}")
    answer = api.patch(path, t.admin_token, json={"rights": {"may_buy": [other.sku_id]}})
    assert error_of(answer) == (422, "invalid_input", "rights.may_buy")
    assert ok(api.get(path, t.admin_token))["rights"] == {}


def test_a_merchant_issues_for_its_own_store_and_only_admins_publish(
    api: Api, tenant: TenantFixture
) -> None:
    t = tenant
    made = create(api, t, token=t.merchant_token, rights={"voucher": t.sku_id})
    cid = made["collection_id"]
    assert made["issuer_merchant_id"] == t.merchant_id
    path = t.path(f"/nfg/collections/{cid}")
    edited = ok(api.patch(path, t.merchant_token, json={"name": "Black card", "edition_size": 3}))
    assert (edited["name"], edited["edition_size"]) == ("Black card", 3)
    assert api.post(path + "/publish", t.merchant_token).status_code == 409
    assert api.post(path + "/publish", t.consumer_token).status_code == 403
    ok(api.post(path + "/publish", t.admin_token))
    answer = api.patch(path, t.admin_token, json={"name": "Too late"})
    assert error_of(answer) == (409, "conflict", "status")
    assert ok(api.get(path))["name"] == "Black card"
    ok(api.post(path + "/close", t.admin_token))
    assert api.get(path).status_code == 404  # closed: not public any more
    assert ok(api.get(path, t.merchant_token))["status"] == "closed"


def test_grants_never_go_beyond_the_edition_and_serials_are_checked(
    api: Api, tenant: TenantFixture, server: Any
) -> None:
    t = tenant
    cid = published(api, t, edition_size=2)["collection_id"]
    mint = t.path(f"/nfg/collections/{cid}/mint")
    answer = api.post(mint, t.admin_token, json={"user_id": t.consumer_id, "count": 3})
    assert error_of(answer) == (422, "invalid_input", "count")
    assert counts(server, t.tenant_id)[2] == 0
    answer = api.post(mint, t.admin_token, json={"user_id": "usr_nobody"})
    assert error_of(answer) == (422, "invalid_input", "user_id")
    assert api.post(mint, t.merchant_token, json={"user_id": t.consumer_id}).status_code == 403
    grant(api, t, cid, 2)
    answer = api.post(mint, t.admin_token, json={"user_id": t.consumer_id})
    assert error_of(answer) == (422, "invalid_input", "count")
    for serial in (0, 3):
        answer = api.get(t.path(f"/nfg/tokens/{cid}/{serial}"), t.consumer_token)
        assert error_of(answer) == (422, "invalid_input", "serial"), answer.text
        answer = api.post(
            t.path(f"/nfg/tokens/{cid}/{serial}/transfer"),
            t.consumer_token,
            json={"to_user_id": t.merchant_user_id},
        )
        assert error_of(answer) == (422, "invalid_input", "serial"), answer.text
    assert counts(server, t.tenant_id)[2] == 2
    assert ok(api.get(t.path(f"/nfg/collections/{cid}")))["minted"] == 2
    draft = create(api, t)["collection_id"]
    answer = api.post(
        t.path(f"/nfg/collections/{draft}/mint"), t.admin_token, json={"user_id": t.consumer_id}
    )
    assert error_of(answer) == (422, "invalid_input", "collection_id")


def test_transfer_by_the_owner_once_and_only_by_the_owner(
    api: Api, tenant: TenantFixture, other_tenant: TenantFixture, server: Any
) -> None:
    t = tenant
    cid = published(api, t)["collection_id"]
    grant(api, t, cid, 1)
    path = t.path(f"/nfg/tokens/{cid}/1/transfer")
    body = {"to_email": "seller@shop.test"}
    first = api.post(path, t.consumer_token, json=body, key="gift-1")
    assert first.status_code == 200, first.text
    assert first.json()["owner_id"] == t.merchant_user_id
    replay = api.post(path, t.consumer_token, json=body, key="gift-1")
    assert replay.status_code == 200
    assert replay.headers["Idempotency-Replayed"] == "true"
    assert replay.json() == first.json()
    # No longer the consumer's: refused; another tenant's caller is told nothing exists.
    answer = api.post(path, t.consumer_token, json={"to_user_id": t.admin_id})
    assert error_of(answer) == (403, "not_owner", "serial")
    assert "not_owner:" in answer.json()["error"]["message"]  # Chinese first
    foreign = api.post(path, other_tenant.consumer_token, json={"to_user_id": t.admin_id})
    assert foreign.status_code == 404
    assert api.get(t.path(f"/nfg/tokens/{cid}/1"), other_tenant.consumer_token).status_code == 404
    # The new owner's refusals: to themself, to nobody, to someone of another tenant.
    for bad, field in (
        ({"to_user_id": t.merchant_user_id}, "to_user_id"),
        ({"to_email": "nobody@shop.test"}, "to_email"),
        ({"to_user_id": other_tenant.consumer_id}, "to_user_id"),
        ({}, "to_user_id"),
    ):
        answer = api.post(path, t.merchant_token, json=bad)
        assert error_of(answer) == (422, "invalid_input", field), answer.text
    assert token_row(server, t.tenant_id, cid, 1) == (t.merchant_user_id, "held")
    history = ok(api.get(t.path(f"/nfg/tokens/{cid}/1"), t.merchant_token))["history"]
    assert [h["type"] for h in history] == ["mint", "transfer"]
    assert history[1]["fields"]["from"] == t.consumer_id
    meta = ok(api.get(t.path(f"/nfg/tokens/{cid}/1/metadata")))
    assert meta["external_url"].endswith(f"/{t.tenant_id}/c/{cid}/1")


def test_a_locked_token_is_not_given(api: Api, tenant: TenantFixture, server: Any) -> None:
    t = tenant
    cid = published(api, t)["collection_id"]
    grant(api, t, cid, 1)
    for state in ("locked", "listed", "redeeming", "burned"):
        with store_of(server).transaction() as conn:
            conn.execute(
                update(nfg_tokens)
                .where(nfg_tokens.c.tenant_id == t.tenant_id, nfg_tokens.c.collection_id == cid)
                .values(state=state)
            )
        answer = api.post(
            t.path(f"/nfg/tokens/{cid}/1/transfer"),
            t.consumer_token,
            json={"to_user_id": t.merchant_user_id},
        )
        assert error_of(answer) == (409, "token_locked", "serial"), answer.text
        assert "token_locked:" in answer.json()["error"]["message"]
        assert token_row(server, t.tenant_id, cid, 1) == (t.consumer_id, state)


def test_the_hold_period_delays_a_gift(api: Api, tenant: TenantFixture, server: Any) -> None:
    t = tenant
    settings = t.path("/nfg/settings")
    assert ok(api.get(settings, t.admin_token)) == {"gift_hold_days": 0}
    assert api.get(settings, t.consumer_token).status_code == 403
    answer = api.call("PUT", settings, t.admin_token, json={"gift_hold_days": -1})
    assert error_of(answer) == (422, "invalid_input", "gift_hold_days")
    ok(api.call("PUT", settings, t.admin_token, json={"gift_hold_days": 7}))
    assert ok(api.get(settings, t.admin_token)) == {"gift_hold_days": 7}
    cid = published(api, t)["collection_id"]
    grant(api, t, cid, 1)
    answer = api.post(
        t.path(f"/nfg/tokens/{cid}/1/transfer"),
        t.consumer_token,
        json={"to_user_id": t.merchant_user_id},
    )
    assert error_of(answer) == (409, "hold_period", "serial"), answer.text
    assert "may be given from 20" in answer.json()["error"]["message"]
    assert token_row(server, t.tenant_id, cid, 1) == (t.consumer_id, "held")


def test_concurrent_transfers_of_one_token_exactly_one_wins(
    api: Api, operator_token: str, server: Any
) -> None:
    t = make_tenant(api, operator_token)
    cid = published(api, t)["collection_id"]
    grant(api, t, cid, 1)
    path = t.path(f"/nfg/tokens/{cid}/1/transfer")
    recipients = [t.merchant_user_id, t.admin_id] * 10

    def give(to: str) -> httpx.Response:
        client = Api(str(api.http.base_url))
        try:
            return client.post(path, t.consumer_token, json={"to_user_id": to})
        finally:
            client.http.close()

    with ThreadPoolExecutor(len(recipients)) as pool:
        answers = list(pool.map(give, recipients))
    assert [a.text for a in answers if a.status_code >= 500] == []
    winners = [a for a in answers if a.status_code == 200]
    assert len(winners) == 1, [a.text for a in answers]
    assert {error_of(a)[1] for a in answers if a.status_code != 200} == {"not_owner"}
    owner = winners[0].json()["owner_id"]
    assert token_row(server, t.tenant_id, cid, 1) == (owner, "held")
    history = ok(api.get(t.path(f"/nfg/tokens/{cid}/1"), t.admin_token))["history"]
    assert [h["type"] for h in history] == ["mint", "transfer"]


def test_log_verify_finds_a_token_owner_edited_by_hand(
    api: Api, operator_token: str, server: Any, db_url: str
) -> None:
    t = make_tenant(api, operator_token)
    cid = published(api, t, edition_size=5)["collection_id"]
    grant(api, t, cid, 3)
    ok(
        api.post(
            t.path(f"/nfg/tokens/{cid}/2/transfer"),
            t.consumer_token,
            json={"to_user_id": t.merchant_user_id},
        )
    )
    clean = log_verify(db_url, t.tenant_id)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "log verify clean" in clean.stdout
    with store_of(server).transaction() as conn:
        conn.execute(
            update(nfg_tokens)
            .where(
                nfg_tokens.c.tenant_id == t.tenant_id,
                nfg_tokens.c.collection_id == cid,
                nfg_tokens.c.serial == 3,
            )
            .values(owner_id=t.admin_id)
        )
    broken = log_verify(db_url, t.tenant_id)
    assert broken.returncode == 1, broken.stdout
    assert (
        f"token {cid}/3: owner {t.admin_id} in the registry, {t.consumer_id} in the log"
        in broken.stdout
    ), broken.stdout
