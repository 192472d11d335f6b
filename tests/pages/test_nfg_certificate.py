"""A token's public certificate page, read without a login as a browser without JavaScript
would: serial k/N, masked holder, the history from the log, the QR code of the page's own URL,
the proof bundle (``?format=json``) checked by the offline verifier and by the log's own
functions, the verifier file, and 404s for what is not there (another tenant's token too)."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import segno
from pages_helpers import Browser, Site

from nfg_tokens import consumers, make_collection, transfer
from tokenmall.adapters.db.mall import tenants as tenants_repo
from tokenmall.adapters.db.store import Store
from tokenmall.adapters.signing import Ed25519Signer
from tokenmall.demo import living as demo
from tokenmall.domain.log import merkle, note
from tokenmall.domain.mall.people import User
from tokenmall.domain.nfg.records import Collection
from tokenmall.domain.nfg.rights import Rights
from tokenmall.services.mall.uow import utc_now
from tokenmall.web.pages import rendering

T = demo.TENANT_ID
VERIFIER = Path(rendering.STATIC) / "tokenmall_verify.py"


@dataclass
class Certified:
    collection: Collection
    first: User  # minted serial 1 and 2; gave serial 1 away
    second: User  # holds serial 1


@pytest.fixture(scope="module")
def certified(site: Site) -> Certified:
    db, config = site.app.state.database, site.app.state.log_config
    first, second = consumers(db, T)
    with db.reading() as unit:
        product = unit.catalogue.list_products(T, None, True, None, 1)[0]
        sku = unit.catalogue.list_skus(T, product.product_id)[0]
    rights = Rights(
        may_buy=(sku.sku_id,), discount_bps=500, voucher_sku_id=sku.sku_id, entry="VIP 品鉴室"
    )
    collection = make_collection(
        db, config, T, [first.user_id, first.user_id], rights=rights, edition_size=100
    )
    transfer(db, config, collection, 1, second.user_id, utc_now() + timedelta(seconds=1))
    return Certified(collection, first, second)


def _path(c: Collection, serial: int) -> str:
    return f"/{c.tenant_id}/c/{c.collection_id}/{serial}"


def test_the_page_shows_the_token_without_a_login(browser: Browser, certified: Certified) -> None:
    page = browser.get(_path(certified.collection, 1))
    assert page.status_code == 200, page.text[:500]
    html = page.text
    assert "数字藏品证书" in html
    assert certified.collection.name in html
    assert 'data-testid="serial">#1/100<' in html
    owner = re.search(r'data-testid="owner">([^<]*)<', html)
    assert owner is not None
    assert owner.group(1) == certified.second.display_name[0] + "*"
    for secret in (certified.second.email, certified.second.user_id, certified.first.email):
        assert secret not in html
    assert certified.first.user_id not in html
    assert "持有中" in html
    assert "醇香酒业" in html
    assert "折扣 5%" in html
    assert "入场权益：VIP 品鉴室" in html
    assert "持有者专享购买" in html
    assert "兑换券" in html
    kinds = re.findall(r'<li data-kind="([a-z_]+)">', html)
    assert kinds == ["mint", "transfer"]
    assert f"由 {certified.first.display_name[0]}*" in html
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d （北京时间）", html)
    assert "<svg" in html
    assert 'href="/-/verify/tokenmall_verify.py"' in html
    assert f'href="{_path(certified.collection, 1)}?format=json&amp;download=1"' in html
    assert 'data-testid="checkpoint">' in html
    assert "— " in html


def test_the_qr_code_encodes_the_page_s_own_absolute_url(
    site: Site, browser: Browser, certified: Certified
) -> None:
    html = browser.get(_path(certified.collection, 2)).text
    base = site.app.state.settings.public_base_url.rstrip("/")
    url = base + _path(certified.collection, 2)
    assert f'data-url="{url}"' in html
    svg = re.search(r"<svg.*?</svg>", html, re.S)
    assert svg is not None
    expected = segno.make(url, error="m", micro=False)
    assert expected.svg_inline(scale=4, border=2, dark="#111", light="#fff") == svg.group(0)


def test_english_from_the_catalogue(browser: Browser, certified: Certified) -> None:
    html = browser.get(_path(certified.collection, 1) + "?lang=en").text
    assert "Certificate of authenticity" in html
    assert "Discount 5% off" in html


def _verify_offline(document: dict[str, object], key: str | None, tmp_path: Path) -> str:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    args = [sys.executable, str(VERIFIER), str(path)] + (["--key", key] if key else [])
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_bundle_verifies_offline_and_with_the_log_s_functions(
    browser: Browser, certified: Certified, tmp_path: Path
) -> None:
    answer = browser.get(_path(certified.collection, 1) + "?format=json")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    document = answer.json()
    assert document["token"] == f"{certified.collection.collection_id}/1"
    key = browser.get(f"/api/v1/tenants/{T}/log/key").text.strip()
    assert document["verifier_key"] == key
    _verify_offline(document, key, tmp_path)

    verifier = note.parse_verifier_key(key)
    opened = note.open_note(str(document["checkpoint"]), verifier, Ed25519Signer.verify)
    assert opened.size == document["tree_size"]
    assert opened.root.hex() == document["root"]
    kinds = []
    for event in document["events"]:
        leaf = base64.b64decode(event["leaf"])
        proof = [bytes.fromhex(h) for h in event["inclusion"]]
        merkle.verify_inclusion(
            event["index"], opened.size, merkle.leaf_hash(leaf), proof, opened.root
        )
        kinds.append(json.loads(leaf)["type"])
    assert kinds == ["mint", "transfer"]

    download = browser.get(_path(certified.collection, 1) + "?format=json&download=1")
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.json() == document


def test_a_tampered_bundle_fails_offline(
    browser: Browser, certified: Certified, tmp_path: Path
) -> None:
    document = browser.get(_path(certified.collection, 2) + "?format=json").json()
    leaf = json.loads(base64.b64decode(document["events"][0]["leaf"]))
    leaf["to"] = "usr_somebody_else"
    document["events"][0]["leaf"] = base64.b64encode(
        json.dumps(leaf, separators=(",", ":"), sort_keys=True).encode()
    ).decode()
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(VERIFIER), str(path)], capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 1


def test_events_no_checkpoint_covers_get_a_covering_one(
    site: Site, browser: Browser, certified: Certified, tmp_path: Path
) -> None:
    db, config = site.app.state.database, site.app.state.log_config
    collection = make_collection(db, config, T, [certified.first.user_id])
    transfer(db, config, collection, 1, certified.second.user_id)  # no checkpoint due yet
    with db.reading() as unit:
        head = unit.log.peek(T)
        assert head is not None
        assert head.signed_size < head.size
    html = browser.get(_path(collection, 1)).text
    assert re.findall(r'<li data-kind="([a-z_]+)">', html) == ["mint", "transfer"]
    document = browser.get(_path(collection, 1) + "?format=json").json()
    assert [e["index"] for e in document["events"]][-1] < document["tree_size"]
    assert len(document["events"]) == 2
    _verify_offline(document, None, tmp_path)


def test_the_verifier_file_is_served_as_python(browser: Browser) -> None:
    answer = browser.get("/-/verify/tokenmall_verify.py")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/x-python")
    assert answer.content == VERIFIER.read_bytes()


def test_unknown_tokens_and_other_tenants_tokens_are_404(
    site: Site, browser: Browser, certified: Certified
) -> None:
    c = certified.collection
    for path in (
        _path(c, 3),  # not minted
        _path(c, 0),
        f"/{T}/c/{c.collection_id}/x1",
        f"/{T}/c/col_unknown/1",
        f"/nosuchtenant/c/{c.collection_id}/1",
    ):
        page = browser.get(path)
        assert page.status_code == 404, path
        assert "<html" in page.text
    assert browser.get(_path(c, 3) + "?format=json").status_code == 404

    db, config = site.app.state.database, site.app.state.log_config
    with db.unit() as unit:
        if not unit.log.tenant_exists("beer"):
            Store(unit.conn.engine).create_tenant(unit.conn, "beer")
            tenants_repo.add(unit.conn, "beer", "Other brewery", utc_now())
    theirs = make_collection(db, config, "beer", ["usr_beer_holder"])
    assert browser.get(f"/{T}/c/{theirs.collection_id}/1").status_code == 404
    assert browser.get(f"/{T}/c/{theirs.collection_id}/1?format=json").status_code == 404
