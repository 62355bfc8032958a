"""Administrative divisions (public)."""

from api.blueprint import Blueprint
from api.schemas.regions import RegionListOut, RegionQuery
from services import regions
from services.error_codes import RegionError

blp = Blueprint("regions", __name__, url_prefix="/api/v1", description="行政区划")


@blp.route("/regions")
@blp.arguments(RegionQuery, location="query")
@blp.response(200, RegionListOut)
@blp.errors(RegionError.REGION_NOT_FOUND, RegionError.INVALID_REGION_CODE)
def list_regions(args):
    """Children of ``parent``; the provinces when ``parent`` is omitted."""
    return {"items": regions.list_regions(parent=args.get("parent")), "next_cursor": None}
