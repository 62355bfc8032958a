"""County staff create and edit stations."""

from api.blueprint import Blueprint

blp = Blueprint("admin_stations", __name__, url_prefix="/api/v1/admin", description="站点管理")
