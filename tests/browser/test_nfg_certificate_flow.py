"""In real headless Chromium, in Chinese: a token's certificate opened from the URL its QR code
encodes (as a phone scanning a bottle's label would), its proof bundle downloaded from the
page's link, and the bundle checked by the offline verifier downloaded from the page too.
The app's public address is the served one, so the QR code's URL is the page itself."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import segno
from browser_helpers import Site, shot

from nfg_tokens import consumers, make_collection, transfer
from served import app_settings, free_port, served
from tokenmall.demo import living as demo
from tokenmall.domain.nfg.records import Collection
from tokenmall.domain.nfg.rights import Rights
from tokenmall.services.mall.uow import utc_now

T = demo.TENANT_ID


@pytest.fixture(scope="module")
def certified(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, Collection]]:
    folder = tmp_path_factory.mktemp("certificates")
    port = free_port()
    settings = app_settings(
        f"sqlite:///{folder / 'tokenmall.db'}", public_base_url=f"http://127.0.0.1:{port}"
    )
    with served(settings, port) as (base, app):
        db, config = app.state.database, app.state.log_config
        demo.seed(db, base_url=base, days=2)
        first, second = consumers(db, T)
        collection = make_collection(
            db,
            config,
            T,
            [first.user_id],
            name="2024 珍藏干红 · 限量编号",
            edition_size=1000,
            rights=Rights(discount_bps=800, entry="酒窖品鉴"),
        )
        transfer(db, config, collection, 1, second.user_id, utc_now())
        yield Site(base, app), collection


def test_a_certificate_opened_from_its_qr_url_verifies_offline(
    phone: Any, certified: tuple[Site, Collection], tmp_path: Path
) -> None:
    site, collection = certified
    path = f"/{T}/c/{collection.collection_id}/1"
    # The label: the QR code as the page serves it, and the URL it encodes.
    label = httpx.get(site.base_url + path, timeout=30).text
    svg = re.search(r"<svg.*?</svg>", label, re.S)
    encoded = re.search(r'data-testid="qr" data-url="([^"]+)"', label)
    assert svg is not None
    assert encoded is not None
    url = encoded.group(1)
    assert segno.make(url, error="m", micro=False).svg_inline(
        scale=4, border=2, dark="#111", light="#fff"
    ) == svg.group(0), "the QR code does not encode the URL the page names"
    assert url == site.base_url + path

    # Scanning it: the phone opens the URL the code encodes.
    answer = phone.goto(url)
    assert answer is not None
    assert answer.status == 200
    assert phone.locator("[data-testid=serial]").inner_text() == "#1/1000"
    assert phone.locator("[data-testid=owner]").inner_text().endswith("*")
    assert phone.locator("[data-testid=history] li").count() == 2
    assert phone.locator("[data-testid=qr] svg").count() == 1
    assert "折扣 8%" in phone.locator("[data-testid=rights]").inner_text()
    shot(phone, "nfg-certificate")

    with phone.expect_download() as bundle_download:
        phone.locator("[data-testid=bundle-link]").click()
    bundle = tmp_path / bundle_download.value.suggested_filename
    bundle_download.value.save_as(str(bundle))
    with phone.expect_download() as verifier_download:
        phone.locator("[data-testid=verifier-link]").click()
    verifier = tmp_path / "tokenmall_verify.py"
    verifier_download.value.save_as(str(verifier))

    key = httpx.get(f"{site.base_url}/api/v1/tenants/{T}/log/key", timeout=30).text.strip()
    done = subprocess.run(
        [sys.executable, str(verifier), str(bundle), "--key", key],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    bundle.write_text(bundle.read_text(encoding="utf-8").replace('"tree_size": ', '"tree_size": 1'))
    tampered = subprocess.run(
        [sys.executable, str(verifier), str(bundle), "--key", key],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert tampered.returncode == 1
