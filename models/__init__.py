"""SQLAlchemy 2 models, one module per domain. Models never commit and never import services."""

from models.audit import AuditEvent
from models.base import Base, db
from models.buyers import Address, CartItem
from models.fulfilment import (
    Batch,
    DirectShipping,
    Shipment,
    ShippingUpload,
    ShopOrderEvent,
    Station,
)
from models.households import Consent, Household, HouseholdInvite
from models.ledger import LedgerAccount, LedgerEntry, LedgerTransaction
from models.media import Media, MediaUpload
from models.orders import IdempotencyKey, Order, OrderLine, ShopOrder
from models.payments import Payment, PaymentAnomaly, Refund
from models.payouts import Payout, PayoutBatch
from models.products import ModerationEvent, Product, Sku
from models.regions import Region
from models.shops import Shop
from models.units import UnitInvite, UnitPledge, WorkUnit
from models.users import AuthToken, RoleGrant, User

__all__ = [
    "Address",
    "Batch",
    "DirectShipping",
    "Shipment",
    "ShippingUpload",
    "ShopOrderEvent",
    "Station",
    "CartItem",
    "IdempotencyKey",
    "Order",
    "OrderLine",
    "Payment",
    "Payout",
    "PayoutBatch",
    "PaymentAnomaly",
    "Refund",
    "ShopOrder",
    "AuditEvent",
    "AuthToken",
    "Base",
    "Consent",
    "Household",
    "HouseholdInvite",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerTransaction",
    "Media",
    "MediaUpload",
    "ModerationEvent",
    "Product",
    "Sku",
    "Region",
    "RoleGrant",
    "Shop",
    "UnitInvite",
    "UnitPledge",
    "User",
    "WorkUnit",
    "db",
]
