"""The app as gunicorn serves it, plus one bare constant-JSON route: the baseline every API
endpoint is compared with in the same run, served the same way."""

import click
from flask import jsonify, request

from api.app import create_app

app = create_app()


@app.get("/bench/constant")
def constant():
    return jsonify(status="ok", items=[])


@app.post("/bench/post")
def bare_post():
    """The baseline of a POST: the JSON body read, a constant answer, no database."""
    request.get_json()
    return jsonify(status="ok"), 201


@app.cli.command("bench-seed")
def bench_seed():
    """Forty more listed products in the demo county, so a catalog page is a full page."""
    from sqlalchemy import select

    from models import Household, Shop, User, db
    from services import media, products
    from services.demo import _demo_photo

    farmer = db.session.scalar(select(User).where(User.openid == "demo-farmer"))
    staff = db.session.scalar(select(User).where(User.username == "gz-staff"))
    shop = db.session.scalar(
        select(Shop).join(Household).where(Household.registry_no == "GZ-2016-0001")
    )
    for i in range(40):
        photo = media.upload_media(farmer, data=_demo_photo((90 + i, 140, 60), i))
        product = products.create_product(
            farmer,
            shop_id=shop.id,
            content={
                "title": f"农家产品{i}",
                "category": "果蔬",
                "unit": "斤",
                "story": "自家地里种的。",
                "media_ids": [photo.id],
                "skus": [{"spec_name": "5斤装", "price_fen": 2000 + i, "stock": 30}],
            },
        )
        products.submit_product(farmer, product.id)
        products.approve_product(staff, product.id)


@app.cli.command("bench-order-seed")
@click.option("--listings", default=25, help="listed products, each with --specs SKUs")
@click.option("--specs", default=20, help="SKUs per listing (a listing holds at most 20)")
@click.option("--stock", default=1_000_000, help="stock of every SKU")
@click.option("--buyers", default=1, help="buyers, each with an address and a token")
def bench_order_seed(listings, specs, stock, buyers):
    """Listed SKUs in the demo farmer's shop and signed-in buyers with an address; prints one
    line of JSON: {"sku_ids": [...], "buyers": [{"user_id", "token", "address_id"}]}."""
    import json

    from sqlalchemy import select

    from models import Household, Shop, Sku, User, db
    from services import accounts, addresses, media, products
    from services.demo import HELPER_VILLAGE, _demo_photo

    farmer = db.session.scalar(select(User).where(User.openid == "demo-farmer"))
    staff = db.session.scalar(select(User).where(User.username == "gz-staff"))
    shop = db.session.scalar(
        select(Shop).join(Household).where(Household.registry_no == "GZ-2016-0001")
    )
    photo = media.upload_media(farmer, data=_demo_photo((120, 160, 80), 7))
    product_ids = []
    for i in range(listings):
        product = products.create_product(
            farmer,
            shop_id=shop.id,
            content={
                "title": f"批量采购品{i}",
                "category": "果蔬",
                "unit": "斤",
                "story": "自家地里种的。",
                "media_ids": [photo.id],
                "skus": [
                    {"spec_name": f"规格{j}", "price_fen": 100 + j, "stock": stock}
                    for j in range(specs)
                ],
            },
        )
        products.submit_product(farmer, product.id)
        products.approve_product(staff, product.id)
        product_ids.append(product.id)
    sku_ids = list(
        db.session.scalars(select(Sku.id).where(Sku.product_id.in_(product_ids)).order_by(Sku.id))
    )
    people = []
    for i in range(buyers):
        user, token, _ = accounts.login_dev(openid=f"bench-buyer-{i}", nickname=f"采购员{i}")
        address = addresses.add_address(
            user, name="张三", phone="13805520001", region_code=HELPER_VILLAGE, detail="食堂后门"
        )
        people.append({"user_id": user.id, "token": token, "address_id": address.id})
    click.echo(json.dumps({"sku_ids": sku_ids, "buyers": people}))
