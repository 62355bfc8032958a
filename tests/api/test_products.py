"""Listings: drafts, review, the live content the public sees, stock, delisting."""

from __future__ import annotations

from sqlalchemy import select

from models import ModerationEvent, db
from models.enums import ConsentPurpose
from tests.factories import VILLAGE_A, assert_error, jpeg_bytes, listing, statements_during

API = "/api/v1"


def public(client, product_id):
    return client.get(f"{API}/catalog/products/{product_id}")


def test_draft_is_private_until_approved(client, catalog):
    shop, farmer, staff = catalog.open_shop()
    photo = catalog.photo(farmer)
    created = client.post(
        f"{API}/shops/{shop}/products", json=listing([photo]), headers=farmer.headers
    )
    assert created.status_code == 201, created.json
    product = created.json
    assert (product["status"], product["review_state"]) == ("draft", "editing")
    assert product["draft"]["title"] == "散养土鸡蛋" and product["live"]["title"] == ""
    assert public(client, product["id"]).status_code == 404
    assert client.get(f"{API}/catalog/products").json["items"] == []

    submitted = client.post(f"{API}/products/{product['id']}/submit", headers=farmer.headers)
    assert submitted.json["status"] == "pending_review"
    assert public(client, product["id"]).status_code == 404

    queue = client.get(f"{API}/admin/moderation/queue", headers=staff.headers).json["items"]
    assert [item["id"] for item in queue] == [product["id"]]
    assert queue[0]["draft_photos"][0]["variants"]
    assert queue[0]["household_verification"] == "verified"

    approved = client.post(
        f"{API}/admin/products/{product['id']}/approve", json={}, headers=staff.headers
    )
    assert approved.json["status"] == "listed"
    assert len(approved.json["trace_code"]) == 10
    shown = public(client, product["id"]).json
    assert shown["title"] == "散养土鸡蛋"
    assert [s["price_fen"] for s in shown["skus"]] == [4500, 8500]
    assert [s["stock_state"] for s in shown["skus"]] == ["in_stock", "in_stock"]
    assert client.get(f"{API}/admin/moderation/queue", headers=staff.headers).json["items"] == []


def test_edits_of_a_listed_product_wait_for_review(client, catalog):
    shop, farmer, staff = catalog.open_shop()
    product_id = catalog.listed(shop, farmer, staff)
    sku_ids = [
        s["id"]
        for s in client.get(f"{API}/products/{product_id}", headers=farmer.headers).json["skus"]
    ]

    edit = {
        "title": "农家土鸡蛋",
        "skus": [{"id": sku_ids[0], "spec_name": "30枚装", "price_fen": 99900}],
    }
    patched = client.patch(f"{API}/products/{product_id}", json=edit, headers=farmer.headers)
    assert patched.status_code == 200
    assert (patched.json["status"], patched.json["review_state"]) == ("listed", "editing")
    assert public(client, product_id).json["title"] == "散养土鸡蛋"  # the edit is not shown

    client.post(f"{API}/products/{product_id}/submit", headers=farmer.headers)
    assert_error(
        client.patch(f"{API}/products/{product_id}", json={"title": "x"}, headers=farmer.headers),
        409,
        "review_pending",
    )
    rejected = client.post(
        f"{API}/admin/products/{product_id}/reject",
        json={"reason_code": "价格异常", "note": "比市场价高太多"},
        headers=staff.headers,
    )
    assert rejected.json["review_state"] == "rejected"
    mine = client.get(f"{API}/products/{product_id}", headers=farmer.headers).json
    assert mine["rejection"]["reason_code"] == "价格异常"
    assert mine["rejection"]["note"] == "比市场价高太多"
    assert "价格" in mine["rejection"]["fix_hint"]
    still = public(client, product_id).json
    assert still["title"] == "散养土鸡蛋" and still["skus"][0]["price_fen"] == 4500

    fixed = {"skus": [{"id": sku_ids[0], "spec_name": "30枚装", "price_fen": 4800}]}
    client.patch(f"{API}/products/{product_id}", json=fixed, headers=farmer.headers)
    client.post(f"{API}/products/{product_id}/submit", headers=farmer.headers)
    client.post(f"{API}/admin/products/{product_id}/approve", json={}, headers=staff.headers)
    now = public(client, product_id).json
    assert now["title"] == "农家土鸡蛋"
    # The second spec was dropped from the draft: it leaves the public page, keeps its row.
    assert [(s["id"], s["price_fen"]) for s in now["skus"]] == [(sku_ids[0], 4800)]


def test_stock_changes_need_no_review(client, catalog):
    shop, farmer, staff = catalog.open_shop()
    product_id = catalog.listed(shop, farmer, staff)
    sku = client.get(f"{API}/products/{product_id}", headers=farmer.headers).json["skus"][0]
    assert (
        client.patch(f"{API}/skus/{sku['id']}", json={"stock": 3}, headers=farmer.headers).json[
            "stock"
        ]
        == 3
    )
    assert public(client, product_id).json["skus"][0]["stock_state"] == "low"
    client.patch(f"{API}/skus/{sku['id']}", json={"stock": 0}, headers=farmer.headers)
    assert public(client, product_id).json["skus"][0]["stock_state"] == "sold_out"
    assert_error(
        client.patch(f"{API}/skus/{sku['id']}", json={"stock": -1}, headers=farmer.headers), 422
    )
    other = catalog.world.user()
    assert_error(
        client.patch(f"{API}/skus/{sku['id']}", json={"stock": 9}, headers=other.headers), 404
    )


def test_incomplete_listing_cannot_be_submitted(client, catalog):
    shop, farmer, _ = catalog.open_shop()
    created = client.post(
        f"{API}/shops/{shop}/products", json={"title": "小米"}, headers=farmer.headers
    )
    body = assert_error(
        client.post(f"{API}/products/{created.json['id']}/submit", headers=farmer.headers),
        422,
        "incomplete_listing",
    )
    assert set(body["errors"]) == {"category", "unit", "media_ids", "skus"}


def test_unknown_photo_and_foreign_sku_are_refused(client, catalog):
    shop, farmer, staff = catalog.open_shop()
    assert_error(
        client.post(f"{API}/shops/{shop}/products", json=listing([987654]), headers=farmer.headers),
        422,
        "unknown_media",
    )
    other_shop, other_farmer, _ = catalog.open_shop()
    other_product = catalog.listed(other_shop, other_farmer, staff)
    with catalog.app.app_context():
        from models import Product

        foreign_sku = db.session.get(Product, other_product).skus[0].id
    draft = catalog.draft(shop, farmer)
    bad = {"skus": [{"id": foreign_sku, "spec_name": "偷来的规格", "price_fen": 1}]}
    assert_error(
        client.patch(f"{API}/products/{draft}", json=bad, headers=farmer.headers),
        422,
        "unknown_sku",
    )


def test_a_listing_uses_only_photos_its_editor_uploaded(client, catalog):
    from tests.media.test_upload_api import upload

    shop, farmer, staff = catalog.open_shop()
    other_shop, other_farmer, _ = catalog.open_shop()
    photo = jpeg_bytes(seed=4242)
    theirs = upload(client, other_farmer, photo).json["id"]  # unpublished: one id guess away
    assert_error(
        client.post(f"{API}/shops/{shop}/products", json=listing([theirs]), headers=farmer.headers),
        422,
        "unknown_media",
    )
    draft = catalog.draft(shop, farmer)
    assert_error(
        client.patch(
            f"{API}/products/{draft}", json={"media_ids": [theirs]}, headers=farmer.headers
        ),
        422,
        "unknown_media",
    )
    # The same bytes sent by this farmer too (stored once, the same photo): now it is theirs.
    assert upload(client, farmer, photo).json["id"] == theirs
    edited = client.patch(
        f"{API}/products/{draft}", json={"media_ids": [theirs]}, headers=farmer.headers
    )
    assert edited.status_code == 200, edited.json


def test_a_helpers_photos_stay_usable_when_the_farmer_edits(app, client, catalog):
    shop, farmer, staff = catalog.open_shop()
    helper = catalog.world.helper(VILLAGE_A)
    with app.app_context():
        from models import Shop

        household_id = db.session.get(Shop, shop).household_id
    catalog.world.consent(household_id, helper, ConsentPurpose.MANAGE_PRODUCTS, by=staff)
    photo = catalog.photo(helper)
    created = client.post(
        f"{API}/shops/{shop}/products", json=listing([photo]), headers=helper.headers
    )
    assert created.status_code == 201, created.json
    own = catalog.photo(farmer)
    edited = client.patch(
        f"{API}/products/{created.json['id']}",
        json={"media_ids": [own, photo], "title": "林下土鸡蛋"},
        headers=farmer.headers,
    )
    assert edited.status_code == 200, edited.json
    assert edited.json["draft"]["media_ids"] == [own, photo]


def test_banned_words_flag_the_listing_for_staff(client, catalog):
    shop, farmer, staff = catalog.open_shop()
    clean = catalog.submitted(shop, farmer)
    flagged = catalog.submitted(shop, farmer, title="野生穿山甲肉")
    queue = client.get(f"{API}/admin/moderation/queue", headers=staff.headers).json["items"]
    assert [item["id"] for item in queue] == [clean, flagged]  # oldest first, flag marked
    assert [item["flagged"] for item in queue] == [False, True]
    assert "穿山甲" in queue[1]["flag_detail"]
    assert public(client, flagged).status_code == 404


def test_queue_is_oldest_first_with_the_households_status_and_pages(client, catalog, app):
    from datetime import timedelta

    from models import Product
    from models.base import utcnow

    shop, farmer, staff = catalog.open_shop()
    ids = [catalog.submitted(shop, farmer, title=f"产品{i}") for i in range(5)]
    # Submitted in the order 3, 1, 4, 0, 2 (two of them in the same instant).
    start = utcnow()
    offsets = {ids[3]: 0, ids[1]: 1, ids[4]: 1, ids[0]: 2, ids[2]: 3}
    with app.app_context():
        for product_id, minutes in offsets.items():
            db.session.get(Product, product_id).submitted_at = start + timedelta(minutes=minutes)
        db.session.commit()
    seen, cursor = [], None
    while True:
        query = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get(
            f"{API}/admin/moderation/queue", query_string=query, headers=staff.headers
        )
        assert page.status_code == 200, page.json
        seen += page.json["items"]
        if not (cursor := page.json["next_cursor"]):
            break
    assert [item["id"] for item in seen] == [ids[3], ids[1], ids[4], ids[0], ids[2]]
    assert {item["household_status"] for item in seen} == {"registered"}
    assert {item["household_verification"] for item in seen} == {"verified"}
    assert_error(
        client.get(
            f"{API}/admin/moderation/queue", query_string={"cursor": "x"}, headers=staff.headers
        ),
        422,
        "invalid_cursor",
    )


def test_delisted_product_leaves_the_catalog_but_keeps_its_trace(client, catalog):
    shop, farmer, staff = catalog.open_shop()
    product_id = catalog.listed(shop, farmer, staff)
    code = client.get(f"{API}/products/{product_id}", headers=farmer.headers).json["trace_code"]
    assert (
        client.post(f"{API}/products/{product_id}/delist", headers=farmer.headers).json["status"]
        == "delisted"
    )
    assert public(client, product_id).status_code == 404
    trace = client.get(f"{API}/trace/{code}").json
    assert trace["on_sale"] is False and trace["product"]["title"] == "散养土鸡蛋"
    assert_error(
        client.post(f"{API}/products/{product_id}/delist", headers=farmer.headers),
        409,
        "invalid_state",
    )
    # Back next season, unchanged: submitted again, reviewed again, on sale again.
    relisted = client.post(f"{API}/products/{product_id}/submit", headers=farmer.headers)
    assert relisted.status_code == 200, relisted.json
    assert (relisted.json["status"], relisted.json["review_state"]) == (
        "pending_review",
        "pending",
    )
    assert public(client, product_id).status_code == 404
    client.post(f"{API}/admin/products/{product_id}/approve", json={}, headers=staff.headers)
    assert public(client, product_id).json["title"] == "散养土鸡蛋"
    same = client.get(f"{API}/products/{product_id}", headers=farmer.headers).json
    assert same["trace_code"] == code  # the printed labels still point at it


def test_rejected_new_listing_is_fixed_and_resubmitted(client, catalog):
    shop, farmer, staff = catalog.open_shop()
    product_id = catalog.submitted(shop, farmer, title="土鸡蛋")
    rejected = client.post(
        f"{API}/admin/products/{product_id}/reject",
        json={"reason_code": "价格异常", "note": "一箱30枚不该卖500元"},
        headers=staff.headers,
    ).json
    assert (rejected["status"], rejected["review_state"]) == ("rejected", "rejected")
    mine = client.get(f"{API}/products/{product_id}", headers=farmer.headers).json
    assert mine["rejection"]["reason_code"] == "价格异常"
    assert mine["rejection"]["note"] == "一箱30枚不该卖500元"
    assert mine["rejection"]["fix_hint"]
    assert public(client, product_id).status_code == 404

    fixed = listing([catalog.photo(farmer)], title="土鸡蛋")
    fixed["skus"] = [{"spec_name": "30枚装", "price_fen": 5000, "stock": 20}]
    edited = client.patch(f"{API}/products/{product_id}", json=fixed, headers=farmer.headers)
    assert edited.json["review_state"] == "editing" and edited.json["rejection"] is None
    client.post(f"{API}/products/{product_id}/submit", headers=farmer.headers)
    queue = client.get(f"{API}/admin/moderation/queue", headers=staff.headers).json["items"]
    assert [item["id"] for item in queue] == [product_id]
    client.post(f"{API}/admin/products/{product_id}/approve", json={}, headers=staff.headers)
    shown = public(client, product_id).json
    assert [(s["spec_name"], s["price_fen"]) for s in shown["skus"]] == [("30枚装", 5000)]


def test_helper_needs_the_households_consent(app, client, catalog):
    shop, farmer, staff = catalog.open_shop()
    helper = catalog.world.helper(VILLAGE_A)
    photo = catalog.photo(helper)
    assert_error(
        client.post(f"{API}/shops/{shop}/products", json=listing([photo]), headers=helper.headers),
        403,
        "consent_required",
    )
    with app.app_context():
        from models import Shop

        household_id = db.session.get(Shop, shop).household_id
    catalog.world.consent(household_id, helper, ConsentPurpose.MANAGE_PRODUCTS, by=staff)
    created = client.post(
        f"{API}/shops/{shop}/products", json=listing([photo]), headers=helper.headers
    )
    assert created.status_code == 201
    with app.app_context():
        event = db.session.scalar(
            select(ModerationEvent).where(ModerationEvent.product_id == created.json["id"])
        )
        assert (event.actor_id, event.on_behalf_of_household_id) == (helper.id, household_id)


def test_review_is_for_the_products_county_only(client, catalog, world):
    shop, farmer, staff = catalog.open_shop()
    product_id = catalog.submitted(shop, farmer)
    other = world.staff("430822")
    admin = world.admin()
    assert client.get(f"{API}/admin/moderation/queue", headers=other.headers).json["items"] == []
    assert_error(
        client.post(f"{API}/admin/products/{product_id}/approve", json={}, headers=other.headers),
        404,
    )
    assert_error(
        client.post(f"{API}/admin/products/{product_id}/approve", json={}, headers=admin.headers),
        403,
    )
    assert_error(
        client.post(f"{API}/admin/products/{product_id}/approve", json={}, headers=farmer.headers),
        403,
    )
    assert_error(
        client.post(
            f"{API}/admin/products/{product_id}/reject",
            json={"reason_code": "不存在"},
            headers=staff.headers,
        ),
        422,
    )


def test_history_records_who_did_what_and_why(client, catalog):
    shop, farmer, staff = catalog.open_shop()
    product_id = catalog.submitted(shop, farmer)
    client.post(
        f"{API}/admin/products/{product_id}/reject",
        json={"reason_code": "图片不清晰", "note": "照片太暗"},
        headers=staff.headers,
    )
    history = client.get(
        f"{API}/products/{product_id}/moderation-history", headers=farmer.headers
    ).json["items"]
    assert [e["action"] for e in history] == ["create", "submit", "reject"]
    assert history[-1]["actor_id"] == staff.id
    assert (history[-1]["reason_code"], history[-1]["note"]) == ("图片不清晰", "照片太暗")
    # What was decided on: the draft as the reviewer saw it.
    assert history[-1]["snapshot"]["title"] == "散养土鸡蛋"
    assert history[-1]["snapshot"]["media_ids"]
    assert history[0]["snapshot"] is None


def test_owner_list_and_queue_read_a_constant_number_of_statements(client, catalog, app):
    shop, farmer, staff = catalog.open_shop()

    def add(n: int) -> None:
        for _ in range(n):
            listed = catalog.listed(shop, farmer, staff)
            rejected = catalog.submitted(shop, farmer)
            client.post(
                f"{API}/admin/products/{rejected}/reject",
                json={"reason_code": "其他", "note": "请补充"},
                headers=staff.headers,
            )
            client.patch(  # an edit waiting for review, with a new photo
                f"{API}/products/{listed}",
                json={"media_ids": [catalog.photo(farmer)]},
                headers=farmer.headers,
            )
            client.post(f"{API}/products/{listed}/submit", headers=farmer.headers)

    def counts() -> tuple[int, int]:
        owner, mine = statements_during(
            app, lambda: client.get(f"{API}/shops/{shop}/products", headers=farmer.headers)
        )
        staff_side, queue = statements_during(
            app, lambda: client.get(f"{API}/admin/moderation/queue", headers=staff.headers)
        )
        assert mine.status_code == queue.status_code == 200
        return owner, staff_side

    add(1)
    few = counts()
    add(4)
    assert counts() == few
