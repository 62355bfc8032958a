"""Administrative divisions (public)."""

from api.auth import documents
from api.blueprint import Blueprint
from api.schemas.regions import RegionListOut, RegionQuery
from services import regions

blp = Blueprint("regions", __name__, url_prefix="/api/v1", description="行政区划")


@blp.route("/regions")
@blp.arguments(RegionQuery, location="query")
@blp.response(200, RegionListOut)
@documents(blp, 404)
def list_regions(args):
    """Children of ``parent``; the provinces when ``parent`` is omitted."""
    return {"items": regions.list_regions(parent=args.get("parent")), "next_cursor": None}
