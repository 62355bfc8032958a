"""THE error-code catalog: every ``error`` a client can receive, declared once per domain.

Each entry is ``NAME = (code, message, kind)``: the stable snake_case code the mini-program
switches on, the short Chinese message shown in a toast, and the kind that gives its HTTP
status (``api/errors.py``). ``flask errors doc`` writes ``docs/errors.md`` from this module.

Adding a code: add a member to its domain (or a new ``@register``-ed domain), raise it from the
service (``raise ShopError.SHOP_EXISTS()``), list it on the endpoints that can answer it
(``@blp.errors(...)``), and regenerate the docs.
"""

from __future__ import annotations

from media.images import MAX_BYTES
from services.errors import (
    BadRequest,
    Conflict,
    ErrorCode,
    InternalError,
    InvalidInput,
    InvalidState,
    MethodNotAllowed,
    NotAcceptable,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    PreconditionRequired,
    RateLimited,
    UnsupportedMedia,
    UpstreamUnavailable,
    UriTooLong,
    register,
)

_UPLOAD_MB = MAX_BYTES // (1024 * 1024)


@register
class CommonError(ErrorCode):
    """Answers any endpoint may give."""

    UNAUTHORIZED = ("unauthorized", "请先登录", NotAuthenticated)
    TOKEN_INVALID = ("token_invalid", "登录已过期，请重新登录", NotAuthenticated)
    FORBIDDEN = ("forbidden", "无操作权限", PermissionDenied)
    NOT_FOUND = ("not_found", "内容不存在", NotFound)
    VALIDATION_ERROR = ("validation_error", "填写的信息有误", InvalidInput)
    CONFLICT = ("conflict", "数据已存在或已变化", Conflict)
    INVALID_STATE = ("invalid_state", "当前状态不能进行此操作", InvalidState)
    RATE_LIMITED = ("rate_limited", "操作太频繁，请稍后再试", RateLimited)
    SERVICE_UNAVAILABLE = ("service_unavailable", "系统繁忙，请稍后再试", UpstreamUnavailable)
    INTERNAL_ERROR = ("internal_error", "系统繁忙，请稍后再试", InternalError)
    INVALID_CURSOR = ("invalid_cursor", "分页参数无效，请刷新", InvalidInput)


@register
class RequestError(ErrorCode):
    """The request itself cannot be taken, whatever it asks for."""

    BAD_REQUEST = ("bad_request", "请求格式有误", BadRequest)
    MALFORMED_JSON = ("malformed_json", "请求内容不是有效的 JSON", BadRequest)
    UNKNOWN_FIELD = ("unknown_field", "包含不支持的字段", InvalidInput)
    MISSING_BODY = ("missing_body", "请求内容不能为空", InvalidInput)
    METHOD_NOT_ALLOWED = ("method_not_allowed", "不支持的请求方式", MethodNotAllowed)
    NOT_ACCEPTABLE = ("not_acceptable", "不支持的响应格式", NotAcceptable)
    PAYLOAD_TOO_LARGE = ("payload_too_large", "提交的内容太大", PayloadTooLarge)
    # Answered by the proxy in front of the app (docs/deploy.md), in the same shape.
    URI_TOO_LONG = ("uri_too_long", "请求地址太长", UriTooLong)
    UNSUPPORTED_MEDIA_TYPE = ("unsupported_media_type", "不支持的内容类型", UnsupportedMedia)
    IDEMPOTENCY_KEY_REQUIRED = (
        "idempotency_key_required",
        "缺少请求编号（Idempotency-Key）",
        PreconditionRequired,
    )
    IDEMPOTENCY_KEY_INVALID = (
        "idempotency_key_invalid",
        "请求编号须为1到128个可见字符",
        InvalidInput,
    )
    IDEMPOTENCY_KEY_REUSED = (
        "idempotency_key_reused",
        "同一请求编号不能用于不同的内容",
        InvalidInput,
    )


@register
class AuthError(ErrorCode):
    """Login and accounts."""

    INVALID_CREDENTIALS = ("invalid_credentials", "用户名或密码错误", NotAuthenticated)
    INVALID_WECHAT_CODE = ("invalid_wechat_code", "登录凭证无效，请重试", NotAuthenticated)
    ACCOUNT_DISABLED = ("account_disabled", "账号已停用", PermissionDenied)
    WECHAT_RISKY_USER = ("wechat_risky_user", "该微信账号暂时无法登录", PermissionDenied)
    WECHAT_RATE_LIMITED = ("wechat_rate_limited", "操作太频繁，请稍后再试", RateLimited)
    WECHAT_UNAVAILABLE = ("wechat_unavailable", "微信服务繁忙，请稍后再试", UpstreamUnavailable)
    WEAK_PASSWORD = ("weak_password", "密码至少10位", InvalidInput)
    USERNAME_TAKEN = ("username_taken", "用户名已存在", Conflict)
    USER_NOT_FOUND = ("user_not_found", "用户不存在", NotFound)
    INVALID_SCOPE = ("invalid_scope", "角色的适用范围有误", InvalidInput)
    GRANT_NOT_FOUND = ("grant_not_found", "该用户没有这项角色", NotFound)


@register
class RegionError(ErrorCode):
    INVALID_REGION_CODE = ("invalid_region_code", "地区代码有误", InvalidInput)
    REGION_NOT_FOUND = ("region_not_found", "地区不存在", NotFound)


@register
class HouseholdError(ErrorCode):
    """Households, personal data, consents and member binding."""

    HOUSEHOLD_EXISTS = ("household_exists", "该农户已登记", Conflict)
    OUT_OF_SCOPE = ("household_out_of_scope", "只能登记本人负责地区的农户", PermissionDenied)
    STAFF_ONLY_FIELD = ("staff_only_field", "只有县级工作人员可以修改帮扶状态", PermissionDenied)
    INVALID_ID_NUMBER = ("invalid_id_number", "身份证号码有误", InvalidInput)
    INVALID_PHONE = ("invalid_phone", "手机号码有误", InvalidInput)
    CONSENT_REQUIRED = ("consent_required", "需要农户授权后才能代办", PermissionDenied)
    NOT_A_HELPER = ("not_a_helper", "该用户不是本户的帮扶责任人", InvalidInput)
    MEMBER_ONLY_CONSENT = ("member_only_consent", "只有本户成员可以在线授权", PermissionDenied)
    STAFF_ONLY_PAPER = (
        "staff_only_paper_consent",
        "纸质授权须由县级工作人员录入",
        PermissionDenied,
    )
    INVALID_EXPIRY = ("invalid_consent_expiry", "授权截止时间须晚于现在", InvalidInput)
    REVOKE_FORBIDDEN = (
        "consent_revoke_forbidden",
        "只有本户成员或县级工作人员可以撤销授权",
        PermissionDenied,
    )
    ADMIN_READ_ONLY = ("admin_read_only", "平台管理员只能查看", PermissionDenied)
    INVALID_INVITE_CODE = ("invalid_invite_code", "邀请码无效或已过期", InvalidInput)
    INVITE_USED = ("invite_used", "邀请码已被使用", InvalidState)
    INVITE_NOT_FOR_YOU = (
        "invite_not_redeemable",
        "此邀请码须由农户本人使用，工作人员和帮扶干部不能使用",
        PermissionDenied,
    )


@register
class ShopError(ErrorCode):
    HOUSEHOLD_NOT_VERIFIED = (
        "household_not_verified",
        "农户信息尚未核实，暂不能开店",
        InvalidState,
    )
    SHOP_EXISTS = ("shop_exists", "该户已开店", Conflict)
    SHOP_SUSPENDED = ("shop_suspended", "店铺已被暂停，请联系县级工作人员", InvalidState)
    SHOP_NOT_OPEN = ("shop_not_open", "店铺当前不能上架产品", InvalidState)
    REASON_REQUIRED = ("reason_required", "请填写原因", InvalidInput)
    SHOP_UNAVAILABLE = ("shop_unavailable", "店铺不存在或已关闭", NotFound)


@register
class ProductError(ErrorCode):
    """Listings, their review and the public catalog."""

    REVIEW_PENDING = ("review_pending", "审核中，暂不能修改", InvalidState)
    UNKNOWN_SKU = ("unknown_sku", "规格不属于该产品", InvalidInput)
    DUPLICATE_SPEC = ("duplicate_spec", "规格名称重复", InvalidInput)
    DUPLICATE_PHOTO = ("duplicate_photo", "图片重复", InvalidInput)
    UNKNOWN_MEDIA = ("unknown_media", "图片不存在，请重新上传", InvalidInput)
    INCOMPLETE_LISTING = ("incomplete_listing", "信息不完整，请补充后再提交", InvalidInput)
    PRODUCT_UNAVAILABLE = ("product_unavailable", "商品不存在或已下架", NotFound)
    TRACE_NOT_FOUND = ("trace_not_found", "溯源码不存在", NotFound)


@register
class MediaError(ErrorCode):
    """Photo uploads."""

    EMPTY_FILE = ("empty_file", "文件是空的，请重新选择图片", InvalidInput)
    FILE_TOO_LARGE = (
        "file_too_large",
        f"图片太大，请选择 {_UPLOAD_MB}MB 以内的图片",
        PayloadTooLarge,
    )
    UNSUPPORTED_TYPE = ("unsupported_type", "只支持 JPG、PNG、WebP 图片", UnsupportedMedia)
    CORRUPT_IMAGE = ("corrupt_image", "图片已损坏，请重新拍摄", InvalidInput)
    IMAGE_TOO_LARGE = ("image_too_large", "图片尺寸过大", InvalidInput)
    DECOMPRESSION_BOMB = ("decompression_bomb", "图片尺寸过大", InvalidInput)
    STORAGE_UNAVAILABLE = (
        "storage_unavailable",
        "图片存储暂时不可用，请稍后再试",
        UpstreamUnavailable,
    )


@register
class OrderError(ErrorCode):
    """Addresses, the cart and orders."""

    INSUFFICIENT_STOCK = ("insufficient_stock", "库存不足", Conflict)
    SKU_UNAVAILABLE = ("sku_unavailable", "部分商品已下架或暂停销售", Conflict)
    DUPLICATE_LINE = ("duplicate_line", "同一规格请合并为一行", InvalidInput)
    ORDER_TOO_LARGE = ("order_too_large", "订单金额超出上限，请分开下单", InvalidInput)
    ADDRESS_NOT_FOUND = ("address_not_found", "收货地址不存在", InvalidInput)
    ADDRESS_REGION = ("address_region", "收货地址须精确到乡镇或村", InvalidInput)
    TOO_MANY_ADDRESSES = ("too_many_addresses", "收货地址太多，请删除不用的地址", InvalidInput)
    NOT_UNIT_MEMBER = ("not_unit_member", "您不是该单位的成员", PermissionDenied)
    INVOICE_NEEDS_UNIT = ("invoice_needs_unit", "只有单位订单可以开具发票", InvalidInput)
    ORDERS_NOT_VISIBLE = ("orders_not_visible", "无权查看该店铺的订单", PermissionDenied)
    IN_FULFILMENT = ("order_in_fulfilment", "商家已接单，订单不能整单取消", InvalidState)


@register
class PaymentError(ErrorCode):
    """Paying, refunds and corporate transfers."""

    METHOD_UNAVAILABLE = ("payment_method_unavailable", "暂不支持该支付方式", InvalidInput)
    WECHAT_IDENTITY_REQUIRED = (
        "wechat_identity_required",
        "请在微信小程序中完成支付",
        InvalidInput,
    )
    PAYMENT_UNAVAILABLE = ("payment_unavailable", "支付服务繁忙，请稍后再试", UpstreamUnavailable)
    ALREADY_PAID = ("already_paid", "订单已支付", InvalidState)
    TRANSFER_FOR_UNITS = ("transfer_for_units", "对公转账只适用于单位订单", InvalidInput)
    TRANSFER_AMOUNT_MISMATCH = (
        "transfer_amount_mismatch",
        "转账金额与订单金额不符",
        InvalidInput,
    )


@register
class UnitError(ErrorCode):
    """Work units (帮扶单位 / 采购单位): registration, review, members and pledges."""

    INVALID_USCC = ("invalid_uscc", "统一社会信用代码有误", InvalidInput)
    UNIT_EXISTS = ("unit_exists", "该统一社会信用代码已登记", Conflict)
    UNIT_NOT_VERIFIED = ("unit_not_verified", "单位尚未通过审核", InvalidState)
    IDENTITY_LOCKED = (
        "unit_identity_locked",
        "单位已通过审核，信用代码、类别和所在地区不能修改",
        InvalidState,
    )
    OWN_UNIT_REVIEW = ("unit_review_own", "不能审核本人所在的单位", PermissionDenied)
    LAST_ADMIN = ("last_unit_admin", "单位至少要保留一名管理员", InvalidState)


@register
class FulfilmentError(ErrorCode):
    """Stations, the way from the village to the buyer, labels and trace records."""

    STATION_REGION = ("station_region", "站点所在地区与站点类型不符", InvalidInput)
    UNKNOWN_STATION = ("unknown_station", "站点不存在或已停用", InvalidInput)
    WRONG_STATION = ("wrong_station", "该站点不能办理这笔订单", Conflict)
    NOT_COUNTY_CENTRE = ("not_county_centre", "只有县级运营中心可以检验和发货", Conflict)
    UNKNOWN_SHOP_ORDER = ("unknown_shop_order", "订单不存在", InvalidInput)
    UNKNOWN_BATCH = ("unknown_batch", "批次码不存在", InvalidInput)
    UNKNOWN_PHOTO = ("unknown_photo", "图片不存在，请重新上传", InvalidInput)
    COLD_CHAIN_RECORD_REQUIRED = (
        "cold_chain_record_required",
        "冷链商品须记录温度",
        InvalidInput,
    )
    DIRECT_SHIPPING_NOT_ALLOWED = (
        "direct_shipping_not_allowed",
        "该商品须送到服务站检验后发货",
        Conflict,
    )
    SHIPMENT_MIXED = ("shipment_mixed", "合并发货的订单须寄往同一地址", InvalidInput)
    NOT_OVERDUE = ("not_overdue", "订单未超期，不能由县里取消", InvalidState)
    LABEL_NOT_FOUND = ("label_not_found", "未找到该标签对应的订单或批次", NotFound)
    TRACKING_REQUIRED = ("tracking_required", "快递发货须填写快递公司和单号", InvalidInput)
    STATION_IN_USE = (
        "station_in_use",
        "还有农户要到该站点交货，不能停用、迁出或改变收货范围",
        Conflict,
    )


@register
class PayoutError(ErrorCode):
    """The ledger, payouts to households and the county's bank batches."""

    INSUFFICIENT_BALANCE = ("insufficient_balance", "可提现余额不足", Conflict)
    DAILY_CAP_REACHED = (
        "payout_daily_cap_reached",
        "今日微信提现已达上限，请明天再试",
        Conflict,
    )
    AMOUNT_TOO_SMALL = ("payout_too_small", "单笔提现至少0.1元", InvalidInput)
    NEEDS_MEMBER = (
        "payout_needs_member",
        "微信提现须由本户成员本人申请并确认收款",
        PermissionDenied,
    )
    CHANNEL_UNAVAILABLE = ("payout_channel_unavailable", "暂不支持该提现方式", InvalidInput)
    BANK_ACCOUNT_MISSING = (
        "bank_account_missing",
        "尚未登记银行账户，请联系县级工作人员",
        InvalidState,
    )
    BANK_PAYOUT_PENDING = ("bank_payout_pending", "已有待发放的银行代发申请", Conflict)
    INVALID_BANK_ACCOUNT = ("invalid_bank_account", "银行账号有误", InvalidInput)
    UNKNOWN_LINE = ("unknown_payout_line", "代发明细不存在", NotFound)
