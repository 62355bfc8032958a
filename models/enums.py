"""Status and role enums. Values are stable strings stored in the database and sent to clients."""

from enum import StrEnum


class Role(StrEnum):
    FARMER = "farmer"  # a member of one household
    HELPER = "helper"  # 帮扶责任人 / 驻村干部, scoped to households or a village
    BUYER = "buyer"  # every signed-in mini-program user
    UNIT_ADMIN = "unit_admin"
    UNIT_MEMBER = "unit_member"
    COUNTY_STAFF = "county_staff"
    STATION_OPERATOR = "station_operator"
    PLATFORM_ADMIN = "platform_admin"


class RegionLevel(StrEnum):
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"
    TOWNSHIP = "township"
    VILLAGE = "village"


class PovertyStatus(StrEnum):
    REGISTERED = "registered"  # 建档立卡, still in the programme
    LIFTED = "lifted"  # 已脱贫
    MONITORED = "monitored"  # 监测户 (at risk of falling back)


class VerificationStatus(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"


class ShopStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUSPENDED = "suspended"


class ConsentPurpose(StrEnum):
    """What a helper may do on a household's behalf."""

    MANAGE_SHOP = "manage_shop"
    MANAGE_PRODUCTS = "manage_products"
    HANDLE_ORDERS = "handle_orders"
    VIEW_FINANCES = "view_finances"


class ConsentMethod(StrEnum):
    IN_APP = "in_app"  # a household member agreed in the mini-program
    PAPER = "paper"  # a signed form, witnessed and entered by county staff


class ProductStatus(StrEnum):
    DRAFT = "draft"
    PENDING_REVIEW = "pending_review"
    LISTED = "listed"
    REJECTED = "rejected"
    DELISTED = "delisted"


class StockState(StrEnum):
    """What a buyer is told of a SKU's stock (never the exact count)."""

    IN_STOCK = "in_stock"
    LOW = "low"
    SOLD_OUT = "sold_out"


class ReviewState(StrEnum):
    """The state of a product's pending edit (the draft beside the live content)."""

    NONE = "none"  # the draft equals the live content, or nothing was ever submitted
    EDITING = "editing"  # changed, not yet submitted
    PENDING = "pending"  # submitted, waiting for county staff
    REJECTED = "rejected"  # staff refused it; the farmer edits and resubmits


class Category(StrEnum):
    GRAIN_OIL = "粮油"
    FRUIT_VEG = "果蔬"
    POULTRY_EGG = "禽蛋"
    MEAT = "肉类"
    AQUATIC = "水产"
    DRIED = "干货"
    TEA = "茶叶"
    HANDICRAFT = "手工艺品"
    OTHER = "其他"


class RejectReason(StrEnum):
    BLURRY_PHOTO = "图片不清晰"
    UNTRUE_DESCRIPTION = "描述不实"
    ABNORMAL_PRICE = "价格异常"
    PROHIBITED = "违禁内容"
    NOT_OWN_PRODUCE = "非本户产品"
    OTHER = "其他"


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class ShopOrderStatus(StrEnum):
    """One shop's part of an order, along the fulfilment chain (services/lifecycles.py)."""

    PENDING_PAYMENT = "pending_payment"
    AWAITING_ACCEPTANCE = "awaiting_acceptance"  # paid: the farmer's turn
    ACCEPTED = "accepted"  # the farmer will prepare it
    REJECTED = "rejected"  # the farmer cannot: that part is refunded
    HANDED_IN = "handed_in"  # received at a station: weighed, graded, labelled
    INSPECTED = "inspected"  # passed the county centre's inspection
    INSPECTION_FAILED = "inspection_failed"  # failed it: that part is refunded
    SHIPPED = "shipped"
    DELIVERED = "delivered"  # the buyer confirmed receipt (or the wait ran out)
    COMPLETED = "completed"  # the after-sales window closed: the household's money is due
    CANCELLED = "cancelled"


class RefundStatus(StrEnum):
    """Where an order's (or a shop order's) money back stands."""

    NONE = "none"
    PENDING = "pending"
    PARTIAL = "partial"  # an order: some parts refunded, the rest still owed to the sellers
    REFUNDED = "refunded"


class PaymentMethod(StrEnum):
    WECHAT = "wechat"
    TRANSFER = "transfer"  # 对公转账, recorded by county staff
    DEV = "dev"  # local only: the verified-notification path without WeChat


class PaymentStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    CLOSED = "closed"


class RefundState(StrEnum):
    PENDING = "pending"  # asked, or to be asked again after an unclear answer
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # WeChat closed it or found it abnormal: staff follow up


class UnitKind(StrEnum):
    """What kind of organisation a work unit (帮扶单位 / 采购单位) is."""

    GOVERNMENT = "机关"
    PUBLIC_INSTITUTION = "事业单位"
    STATE_OWNED = "国有企业"
    PRIVATE = "民营企业"
    SCHOOL = "学校"
    HOSPITAL = "医院"
    MILITARY = "部队"
    OTHER = "其他"


class UnitStatus(StrEnum):
    PENDING = "pending"  # registered, waiting for county staff (or a platform admin)
    VERIFIED = "verified"  # may invite members and pledge (and, later, order)
    REJECTED = "rejected"  # refused with a reason; an edit sends it back to pending


class StationKind(StrEnum):
    """The three-tier county network (县级运营中心, 乡镇服务站, 村级服务点) and offline counters."""

    VILLAGE_POINT = "village_point"
    TOWNSHIP_STATION = "township_station"
    COUNTY_CENTRE = "county_centre"
    COUNTER = "counter"  # 线下专柜: a unit's canteen or a city supermarket


class InspectionResult(StrEnum):
    PASS = "pass"
    FAIL = "fail"


class ShipMethod(StrEnum):
    EXPRESS = "express"  # a carrier's parcel (WeChat logistics_type 1)
    PICKUP = "pickup"  # collected at a counter (WeChat logistics_type 4, 用户自提)


class ShippingUploadStatus(StrEnum):
    PENDING = "pending"  # to be sent (again)
    UPLOADED = "uploaded"


class SellerKind(StrEnum):
    """Who is owed the money of a sale. A household today; a cooperative or firm selling for
    linked households once organisations sell (their payable accounts sit beside households')."""

    HOUSEHOLD = "household"
    ORGANISATION = "organisation"


class AccountKind(StrEnum):
    """The ledger's accounts (services/ledger.py says which way money moves between them)."""

    CLEARING = "clearing"  # money at a payment channel: one account per payment method
    ESCROW = "escrow"  # a seller's sales paid for, held until the part completes
    PAYABLE = "payable"  # a seller's money, free to pay out ("available")
    IN_FLIGHT = "in_flight"  # a payout asked for, not yet confirmed
    PAID_OUT = "paid_out"  # what reached the seller
    PLATFORM_FEE = "platform_fee"
    REFUNDS = "refunds"  # owed back to buyers outside any sale (money for a closed order)


class PayoutChannel(StrEnum):
    WECHAT_TRANSFER = "wechat_transfer"  # 商家转账 to the member's WeChat balance
    BANK = "bank"  # a line of a county's bank batch (惠农一卡通)


class PayoutState(StrEnum):
    REQUESTED = "requested"  # the money is set aside; the channel has it (or will)
    WAIT_USER_CONFIRM = "wait_user_confirm"  # WeChat waits for the farmer to accept it
    UNCLEAR = "unclear"  # WeChat's answer was lost: asked again with the same bill number
    SUCCESS = "success"
    FAILED = "failed"  # the money went back to available
    CANCELLED = "cancelled"  # not accepted in time, or called off: back to available
