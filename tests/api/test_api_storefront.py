"""The storefront's API over real HTTP (SQLite and PostgreSQL): product images (upload,
cached serving, delete), categories, search with paging (Chinese included) and banners;
every bad input refused naming its field with nothing stored."""

from __future__ import annotations

import io
from typing import Any

from mall_api import Api, TenantFixture, ok
from nfg_helpers import png, store_of
from PIL import Image
from sqlalchemy import func, select

from tokenmall.adapters.db.storefront.tables import (
    store_banners,
    store_categories,
    store_images,
    store_product_categories,
)
from tokenmall.services.images import MAX_BYTES

TABLES = (store_images, store_categories, store_product_categories, store_banners)


def counts(server: Any, tenant_id: str) -> tuple[int, ...]:
    with store_of(server).read() as conn:
        return tuple(
            int(
                conn.execute(
                    select(func.count()).select_from(t).where(t.c.tenant_id == tenant_id)
                ).scalar_one()
            )
            for t in TABLES
        )


def upload(api: Api, t: TenantFixture, data: bytes, token: str = "", product: str = "") -> Any:
    return api.post(
        t.path(f"/products/{product or t.product_id}/images"),
        token or t.merchant_token,
        files={"file": ("a.png", data, "application/octet-stream")},
    )


def product(api: Api, t: TenantFixture, title: str, description: str = "") -> str:
    made = ok(
        api.post(
            t.path("/products"),
            t.admin_token,
            json={"merchant_id": t.merchant_id, "title": title, "description": description},
        ),
        201,
    )
    return str(made["product_id"])


def test_a_product_image_is_stored_thumbnailed_and_served_for_good(
    api: Api, tenant: TenantFixture
) -> None:
    t = tenant
    first = ok(upload(api, t, png(800, 600)), 201)
    second = ok(upload(api, t, png(100, 100, "blue"), token=t.admin_token), 201)
    assert (first["width"], first["height"], first["position"]) == (800, 600, 0)
    assert second["position"] == 1
    listed = ok(api.get(t.path(f"/products/{t.product_id}/images")))["items"]
    assert [i["image_id"] for i in listed] == [first["image_id"], second["image_id"]]
    image = api.get(first["url"])
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert "immutable" in image.headers["cache-control"]
    assert image.headers["etag"] == f'"{first["sha256"]}"'
    assert Image.open(io.BytesIO(image.content)).size == (800, 600)
    assert (
        api.get(first["url"], headers={"If-None-Match": image.headers["etag"]}).status_code == 304
    )
    thumb = api.get(first["thumbnail_url"])
    assert Image.open(io.BytesIO(thumb.content)).size == (320, 240)
    ok(api.call("DELETE", t.path(f"/images/{second['image_id']}"), t.merchant_token))
    assert api.get(second["url"]).status_code == 404
    assert len(ok(api.get(t.path(f"/products/{t.product_id}/images")))["items"]) == 1


def test_a_bad_image_upload_is_refused_naming_file_and_nothing_stored(
    api: Api, tenant: TenantFixture, server: Any
) -> None:
    t = tenant
    before = counts(server, t.tenant_id)
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, "GIF")
    for data in (b"not an image", b"", gif.getvalue(), png()[:200], png() + b"\0" * MAX_BYTES):
        answer = upload(api, t, data)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["field"] == "file", answer.text
    assert upload(api, t, png(), token=t.consumer_token).status_code == 403
    assert upload(api, t, png(), product="prd_nothing").status_code == 404
    no_file = api.post(t.path(f"/products/{t.product_id}/images"), t.merchant_token)
    assert no_file.status_code == 422
    assert counts(server, t.tenant_id) == before


def test_categories_file_products_and_search_pages_through_chinese_text(
    api: Api, tenant: TenantFixture
) -> None:
    t = tenant
    wine = ok(api.post(t.path("/categories"), t.admin_token, json={"name": "红酒"}), 201)
    tea = ok(api.post(t.path("/categories"), t.admin_token, json={"name": "茶叶"}), 201)
    renamed = ok(
        api.patch(t.path(f"/categories/{tea['category_id']}"), t.admin_token, json={"name": "名茶"})
    )
    assert renamed["name"] == "名茶"
    names = [c["name"] for c in ok(api.get(t.path("/categories")))["items"]]
    assert names == ["红酒", "名茶"]
    reds = [product(api, t, f"干红葡萄酒 {n}", "宁夏贺兰山东麓产区") for n in range(3)]
    green = product(api, t, "西湖龙井", "明前绿茶 Longjing")
    for pid in reds:
        ok(
            api.call(
                "PUT",
                t.path(f"/products/{pid}/category"),
                t.admin_token,
                json={"category_id": wine["category_id"]},
            )
        )
    ok(
        api.call(
            "PUT",
            t.path(f"/products/{green}/category"),
            t.merchant_token,
            json={"category_id": tea["category_id"]},
        )
    )

    def found(**query: Any) -> tuple[list[str], Any]:
        page = ok(api.get(t.path("/search"), params=query))
        return [i["product"]["product_id"] for i in page["items"]], page["next_after"]

    assert found(q="葡萄酒")[0] == reds  # three characters and more: the trigram index
    assert found(q="龙")[0] == [green]  # one character: LIKE
    assert found(q="贺兰山东麓")[0] == reds  # from the description
    assert found(q="longjing")[0] == [green]  # any case
    assert found(q="100%")[0] == []
    assert found(category_id=tea["category_id"])[0] == [green]
    assert found(q="酒", category_id=tea["category_id"])[0] == []
    first, cursor = found(q="干红", limit=2)
    assert first == reds[:2]
    assert cursor == reds[1]
    rest, cursor = found(q="干红", limit=2, after=cursor)
    assert rest == reds[2:]
    assert cursor is None
    # A new title is found at once (the index follows the products).
    ok(api.patch(t.path(f"/products/{green}"), t.admin_token, json={"title": "安吉白茶"}))
    assert found(q="安吉白")[0] == [green]
    assert found(q="西湖龙")[0] == []
    items = ok(api.get(t.path("/search"), params={"q": "白茶"}))["items"]
    assert items[0]["category_id"] == tea["category_id"]


def test_bad_category_and_search_input_is_refused_naming_the_field(
    api: Api, tenant: TenantFixture, server: Any
) -> None:
    t = tenant
    ok(api.post(t.path("/categories"), t.admin_token, json={"name": "红酒"}), 201)
    before = counts(server, t.tenant_id)
    cases = [
        (api.post(t.path("/categories"), t.admin_token, json={"name": "  "}), 422, "name"),
        (api.post(t.path("/categories"), t.admin_token, json={"name": "x" * 21}), 422, "name"),
        (api.post(t.path("/categories"), t.admin_token, json={"name": "红酒"}), 409, "name"),
        (
            api.call(
                "PUT",
                t.path(f"/products/{t.product_id}/category"),
                t.admin_token,
                json={"category_id": "cat_nothing"},
            ),
            422,
            "category_id",
        ),
        (api.get(t.path("/search"), params={"q": "x" * 51}), 422, "q"),
        (api.get(t.path("/search"), params={"category_id": "cat_nothing"}), 404, "category_id"),
    ]
    for answer, status, field in cases:
        assert answer.status_code == status, answer.text
        assert answer.json()["error"]["field"] == field, answer.text
    assert api.post(t.path("/categories"), t.merchant_token, json={"name": "茶"}).status_code == 403
    assert counts(server, t.tenant_id) == before


def test_banners_are_added_listed_and_deleted_and_bad_ones_refused(
    api: Api, tenant: TenantFixture, server: Any
) -> None:
    t = tenant

    def add(data: bytes, title: str = "新酒上市", link: str = "/shop/", token: str = "") -> Any:
        return api.post(
            t.path("/banners"),
            token or t.admin_token,
            files={"file": ("b.png", data, "image/png")},
            data={"title": title, "link": link},
        )

    before = counts(server, t.tenant_id)
    for answer, field in [
        (add(b"nope"), "file"),
        (add(png(), title=" "), "title"),
        (add(png(), link="javascript:alert(1)"), "link"),
        (add(png(), link="//evil.test/"), "link"),
        (add(png(), link="http://plain.test/"), "link"),
    ]:
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["field"] == field, answer.text
    assert add(png(), token=t.merchant_token).status_code == 403
    assert counts(server, t.tenant_id) == before
    made = ok(add(png(1200, 400), link=f"/{t.tenant_id}/products/{t.product_id}"), 201)
    listed = ok(api.get(t.path("/banners")))["items"]
    assert [(b["banner_id"], b["title"]) for b in listed] == [(made["banner_id"], "新酒上市")]
    assert api.get(made["image_url"]).status_code == 200
    ok(api.call("DELETE", t.path(f"/banners/{made['banner_id']}"), t.admin_token))
    assert ok(api.get(t.path("/banners")))["items"] == []
    assert api.get(made["image_url"]).status_code == 404
    assert counts(server, t.tenant_id) == before
