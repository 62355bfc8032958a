"""Staff follow the shipping information WeChat Pay still waits for."""

from api.blueprint import Blueprint

blp = Blueprint(
    "admin_shipping_uploads", __name__, url_prefix="/api/v1/admin", description="发货信息上传"
)
