"""Stations of the county network: the public list (nearest first) and one station."""

from api.blueprint import Blueprint

blp = Blueprint("stations", __name__, url_prefix="/api/v1", description="服务站点")
