"""Staff follow the shipping information WeChat Pay still waits for."""

from api.auth import STAFF_ROLES, current_user, protected
from api.blueprint import Blueprint
from api.schemas.shipping_uploads import ShippingUploadListOut, ShippingUploadQuery
from services import shipping_uploads
from services.error_codes import CommonError

blp = Blueprint(
    "admin_shipping_uploads", __name__, url_prefix="/api/v1/admin", description="发货信息上传"
)


@blp.route("/shipping-uploads")
@protected(blp, *STAFF_ROLES)
@blp.arguments(ShippingUploadQuery, location="query")
@blp.response(200, ShippingUploadListOut)
@blp.errors(CommonError.INVALID_CURSOR)
def list_shipping_uploads(args):
    """WeChat shipping uploads of orders in the staff member's counties (every one, for a
    platform admin), newest first; ``?status=pending`` lists those WeChat does not have yet
    (the job sends them again; ``last_error`` says why the last try failed)."""
    items, next_cursor = shipping_uploads.list_uploads(current_user(), **args)
    return {"items": items, "next_cursor": next_cursor}
