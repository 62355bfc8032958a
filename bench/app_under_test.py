"""The app as gunicorn serves it, plus one bare constant-JSON route: the baseline every API
endpoint is compared with in the same run, served the same way."""

from flask import jsonify

from api.app import create_app

app = create_app()


@app.get("/bench/constant")
def constant():
    return jsonify(status="ok", items=[])


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
