"""What a buyer keeps between orders: the address book and the cart."""

from flask.views import MethodView

from api.auth import current_user, protected
from api.blueprint import Blueprint
from api.schemas.orders import AddressIn, AddressListOut, AddressOut, AddressPatch, CartIn, CartOut
from services import addresses, cart
from services.error_codes import CommonError, HouseholdError, OrderError, ProductError, RegionError

blp = Blueprint("buyers", __name__, url_prefix="/api/v1", description="收货地址与购物车")

ADDRESS_ERRORS = (
    HouseholdError.INVALID_PHONE,
    RegionError.INVALID_REGION_CODE,
    OrderError.ADDRESS_REGION,
)


def _present_address(address) -> dict:
    return {
        "id": address.id,
        "name": address.name,
        "phone": address.phone,
        "region": {"code": address.region.code, "name": address.region.name},
        "detail": address.detail,
        "is_default": address.is_default,
    }


@blp.route("/me/addresses")
class Addresses(MethodView):
    @protected(blp)
    @blp.response(200, AddressListOut)
    def get(self):
        """The user's addresses, the default first."""
        items = [_present_address(a) for a in addresses.list_addresses(current_user())]
        return {"items": items, "next_cursor": None}

    @protected(blp)
    @blp.arguments(AddressIn)
    @blp.response(201, AddressOut)
    @blp.errors(*ADDRESS_ERRORS, OrderError.TOO_MANY_ADDRESSES)
    def post(self, data):
        """Add an address (down to the township or village); the first one is the default."""
        return _present_address(addresses.add_address(current_user(), **data))


@blp.route("/me/addresses/<int:address_id>")
class AddressById(MethodView):
    @protected(blp)
    @blp.arguments(AddressPatch, required=True)
    @blp.response(200, AddressOut)
    @blp.errors(CommonError.NOT_FOUND, *ADDRESS_ERRORS)
    def patch(self, data, address_id):
        """Edit an address; orders already placed keep the address they were placed with."""
        address = addresses.update_address(current_user(), address_id, changes=data)
        return _present_address(address)

    @protected(blp)
    @blp.response(204)
    @blp.errors(CommonError.NOT_FOUND)
    def delete(self, address_id):
        """Delete an address (orders keep their copy)."""
        addresses.delete_address(current_user(), address_id)


def _present_cart(lines) -> dict:
    return {"lines": lines, "total_fen": cart.total_fen(lines)}


@blp.route("/cart")
class Cart(MethodView):
    @protected(blp)
    @blp.response(200, CartOut)
    def get(self):
        """The cart, each line with its price now and whether it can still be bought."""
        return _present_cart(cart.get_cart(current_user()))

    @protected(blp)
    @blp.arguments(CartIn)
    @blp.response(200, CartOut)
    @blp.errors(OrderError.DUPLICATE_LINE, ProductError.UNKNOWN_SKU)
    def put(self, data):
        """Replace the whole cart with these lines (an empty list empties it)."""
        lines = [(line["sku_id"], line["quantity"]) for line in data["lines"]]
        return _present_cart(cart.replace_cart(current_user(), lines=lines))
