"""County staff: the listing review queue, approval and rejection."""

from api.auth import STAFF_ROLES, current_user, protected
from api.blueprint import Blueprint
from api.product_presenters import present_product, present_queue
from api.schemas.products import ApproveIn, ProductOut, QueueOut, QueueQuery, RejectIn
from services import products
from services.error_codes import CommonError, HouseholdError

blp = Blueprint(
    "admin_moderation", __name__, url_prefix="/api/v1/admin", description="县级：产品审核"
)


@blp.route("/moderation/queue")
@protected(blp, *STAFF_ROLES)
@blp.arguments(QueueQuery, location="query")
@blp.response(200, QueueOut)
@blp.errors(CommonError.INVALID_CURSOR)
def queue(args):
    """Listings waiting in the staff member's counties, oldest first (flagged ones marked),
    with the household's status; cursor pagination."""
    items, next_cursor = products.moderation_queue(current_user(), **args)
    return {"items": present_queue(items), "next_cursor": next_cursor}


@blp.route("/products/<int:product_id>/approve", methods=["POST"])
@protected(blp, *STAFF_ROLES)
@blp.arguments(ApproveIn)
@blp.response(200, ProductOut)
@blp.errors(CommonError.NOT_FOUND, HouseholdError.ADMIN_READ_ONLY, CommonError.INVALID_STATE)
def approve(data, product_id):
    """Publish the submitted draft (and give the product its trace code)."""
    return present_product(products.approve_product(current_user(), product_id, **data))


@blp.route("/products/<int:product_id>/reject", methods=["POST"])
@protected(blp, *STAFF_ROLES)
@blp.arguments(RejectIn)
@blp.response(200, ProductOut)
@blp.errors(CommonError.NOT_FOUND, HouseholdError.ADMIN_READ_ONLY, CommonError.INVALID_STATE)
def reject(data, product_id):
    """Refuse the submitted draft with a reason code; the household sees a fix hint."""
    return present_product(products.reject_product(current_user(), product_id, **data))
