"""The way from the village to the buyer: a ShopOrder accepted, handed in, inspected, shipped
and received; a station's work list; labels scanned."""

from api.blueprint import Blueprint

blp = Blueprint("fulfilment", __name__, url_prefix="/api/v1", description="履约：从村到买家")
