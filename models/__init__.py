"""SQLAlchemy 2 models, one module per domain. Models never commit and never import services."""

from models.audit import AuditEvent
from models.base import Base, db
from models.households import Consent, Household, HouseholdInvite
from models.media import Media, MediaUpload
from models.products import ModerationEvent, Product, Sku
from models.regions import Region
from models.shops import Shop
from models.users import AuthToken, RoleGrant, User

__all__ = [
    "AuditEvent",
    "AuthToken",
    "Base",
    "Consent",
    "Household",
    "HouseholdInvite",
    "Media",
    "MediaUpload",
    "ModerationEvent",
    "Product",
    "Sku",
    "Region",
    "RoleGrant",
    "Shop",
    "User",
    "db",
]
