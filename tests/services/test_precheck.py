"""The automatic pre-check flags listings for staff; it never publishes or blocks them."""

from __future__ import annotations

import pytest

from models import Product, User, db
from services import precheck, products
from services.wechat_gateway import wechat_client


@pytest.fixture
def wechat_check(app, fake_wechat, monkeypatch):
    """The content check on, and no access token left in the app's cache. The fake forgets the
    token it issued when it is reset; the app's cache does not, and with REDIS_URL set it is
    Redis, which outlives the test and the run. A stale token costs a refused call and a retry,
    so a test counting the calls would see two."""
    monkeypatch.setitem(app.config, "WECHAT_CONTENT_CHECK", True)
    with app.app_context():
        client = wechat_client()
        client._token_cache.delete(client._token_key)


def _submit(app, catalog, farmer_openid_person, shop, **overrides):
    product_id = catalog.submitted(shop, farmer_openid_person, **overrides)
    with app.app_context():
        product = db.session.get(Product, product_id)
        return product.status.value, product.flagged, product.flag_detail


def test_wechat_risky_verdict_flags_the_listing(app, catalog, fake_wechat, wechat_check):
    fake_wechat.set_risky_words(["包治百病"])
    shop, farmer, _ = catalog.open_shop()
    status, flagged, detail = _submit(app, catalog, farmer, shop, description="土蜂蜜包治百病")
    assert (status, flagged) == ("pending_review", True)
    assert "有风险" in detail
    assert fake_wechat.calls("/wxa/msg_sec_check") == 1


def test_wechat_review_verdict_is_flagged_too(app, catalog, fake_wechat, wechat_check):
    fake_wechat.set_review_words(["祖传秘方"])
    shop, farmer, _ = catalog.open_shop()
    _, flagged, detail = _submit(app, catalog, farmer, shop, story="祖传秘方做的酱")
    assert flagged and "人工复核" in detail


def test_clean_listing_passes(app, catalog, fake_wechat, wechat_check):
    shop, farmer, _ = catalog.open_shop()
    assert _submit(app, catalog, farmer, shop)[1:] == (False, "")


def test_wechat_outage_does_not_block_the_farmer(app, catalog, fake_wechat, wechat_check):
    shop, farmer, _ = catalog.open_shop()
    fake_wechat.fail_next_http(502, "bad gateway", path="/wxa/msg_sec_check")
    status, flagged, detail = _submit(app, catalog, farmer, shop)
    assert (status, flagged) == ("pending_review", False)
    assert "暂不可用" in detail


def test_staff_are_told_when_the_wechat_check_could_not_run(
    app, catalog, fake_wechat, wechat_check
):
    shop, farmer, _ = catalog.open_shop()
    with app.app_context():
        db.session.get(User, farmer.id).openid = None  # signed in by password, not WeChat
        db.session.commit()
    status, flagged, detail = _submit(app, catalog, farmer, shop)
    assert (status, flagged) == ("pending_review", False)
    assert "未做微信内容安全检查" in detail
    assert fake_wechat.calls("/wxa/msg_sec_check") == 0


def test_configured_banned_words_add_to_the_list(app, catalog, monkeypatch):
    monkeypatch.setitem(app.config, "BANNED_WORDS", "假冒, 三无产品")
    with app.app_context():
        assert {"假冒", "三无产品", "穿山甲"} <= set(precheck.banned_words())
    shop, farmer, _ = catalog.open_shop()
    assert _submit(app, catalog, farmer, shop, title="三无产品大甩卖")[1] is True


def test_precheck_never_lists(app, catalog):
    shop, farmer, staff = catalog.open_shop()
    product_id = catalog.submitted(shop, farmer, title="野生穿山甲")
    with app.app_context():
        product = db.session.get(Product, product_id)
        assert product.status.value == "pending_review" and product.listed_at is None
        # Staff may still decide: a flag informs, it does not forbid.
        products.reject_product(db.session.get(User, staff.id), product_id, reason_code="违禁内容")
        assert db.session.get(Product, product_id).status.value == "rejected"
