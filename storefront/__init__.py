"""Server-rendered pages: the public H5 storefront (and, later, the county console)."""

from flask import Blueprint, abort, render_template

from services import catalog, pii, shops
from services.errors import NotFound
from services.media import media_urls

bp = Blueprint(
    "storefront",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/storefront",
)


@bp.get("/")
def home():
    return render_template("home.html", shops=shops.list_public_shops(limit=30))


@bp.get("/t/<code>")
def trace(code: str):
    """The page a printed QR label opens: where the product came from and who grew it."""
    try:
        product, media = catalog.get_trace(code)
    except NotFound:
        abort(404)
    photo = next((media[i] for i in product.media_ids or [] if i in media), None)
    thumb = (
        next((v["url"] for v in media_urls(photo) if v["format"] == "jpeg"), None)
        if photo
        else None
    )
    return render_template(
        "trace.html",
        product=product,
        code=code,
        household_name=pii.mask_name(product.shop.household.head_name),
        on_sale=catalog.is_on_sale(product),
        photo_url=thumb,
    )
