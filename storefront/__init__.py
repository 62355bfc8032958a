"""Server-rendered pages: the public H5 storefront (and, later, the county console)."""

from flask import Blueprint, render_template

from services import shops

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
