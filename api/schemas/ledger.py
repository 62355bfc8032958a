"""Balances, ledger entries, payouts, bank batches, beneficiaries and a unit's reach."""

from marshmallow import Schema, fields, validate

from api.schemas.common import InputSchema, Pattern, page_of, text
from models.enums import AccountKind, PayoutChannel, PayoutState

# More than any household will ever hold; keeps every sum inside a 64-bit column.
MAX_PAYOUT_FEN = 10_000_000_000


class BalanceOut(Schema):
    household_id = fields.Integer(required=True)
    pending_fen = fields.Integer(
        required=True, metadata={"description": "paid for, held until the parts complete"}
    )
    available_fen = fields.Integer(required=True, metadata={"description": "may be paid out"})
    in_flight_fen = fields.Integer(required=True, metadata={"description": "payouts under way"})
    paid_out_fen = fields.Integer(required=True)


class LedgerQuery(InputSchema):
    cursor = fields.String(validate=validate.Length(max=200))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))
    account = fields.Enum(
        AccountKind,
        by_value=True,
        metadata={"description": "one account only: escrow, payable, in_flight or paid_out"},
    )


class EntryOut(Schema):
    id = fields.Integer(required=True)
    transaction_id = fields.Integer(required=True)
    cause = fields.String(required=True, metadata={"description": "e.g. shop_order:9:completed"})
    kind = fields.String(
        required=True,
        metadata={"description": "payment_received, refund, sale_completed, payout_sent ..."},
    )
    account = fields.Enum(
        AccountKind,
        by_value=True,
        required=True,
        metadata={"description": "escrow → pending, payable → available"},
    )
    amount_fen = fields.Integer(required=True, metadata={"description": "signed"})
    order_id = fields.Integer(allow_none=True)
    shop_order_id = fields.Integer(allow_none=True)
    product_id = fields.Integer(allow_none=True)
    product_title = fields.String(allow_none=True)
    unit_id = fields.Integer(allow_none=True, metadata={"description": "the buyer's work unit"})
    unit_name = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)


EntryListOut = page_of(EntryOut, "LedgerEntryList")


class PayoutIn(InputSchema):
    amount_fen = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=MAX_PAYOUT_FEN)
    )
    channel = fields.Enum(PayoutChannel, by_value=True, required=True)


class ConfirmParamsOut(Schema):
    mchId = fields.String(required=True)  # noqa: N815 (wx.requestMerchantTransfer's names)
    appId = fields.String(required=True)  # noqa: N815
    package = fields.String(required=True)
    openId = fields.String(required=True)  # noqa: N815


class PayoutOut(Schema):
    id = fields.Integer(required=True)
    household_id = fields.Integer(required=True)
    channel = fields.Enum(PayoutChannel, by_value=True, required=True)
    state = fields.Enum(PayoutState, by_value=True, required=True)
    amount_fen = fields.Integer(required=True, metadata={"description": "what this payout pays"})
    requested_fen = fields.Integer(
        required=True, metadata={"description": "what was asked (more: the daily cap held back)"}
    )
    out_bill_no = fields.String(required=True)
    package_info = fields.String(
        allow_none=True, metadata={"description": "for wx.requestMerchantTransfer"}
    )
    confirm_params = fields.Nested(
        ConfirmParamsOut,
        allow_none=True,
        metadata={"description": "wx.requestMerchantTransfer's parameters while waiting"},
    )
    provider_state = fields.String(allow_none=True)
    bank_name = fields.String(allow_none=True)
    bank_account_masked = fields.String(allow_none=True)
    voucher_no = fields.String(allow_none=True)
    batch_id = fields.Integer(allow_none=True)
    fail_reason = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    settled_at = fields.DateTime(allow_none=True)


PayoutListOut = page_of(PayoutOut, "PayoutList")


class BankAccountIn(InputSchema):
    bank_name = text(60, required=True, min_len=2)
    account_name = text(50, required=True, min_len=1)
    account_number = fields.String(
        required=True,
        validate=Pattern(r"^[0-9 -]{12,40}$"),
        metadata={"description": "惠农一卡通 or bank card number, 12-30 digits"},
    )


class BankAccountOut(Schema):
    household_id = fields.Integer(required=True)
    bank_name = fields.String(allow_none=True)
    account_name = fields.String(allow_none=True)
    account_masked = fields.String(allow_none=True)


class BatchIn(InputSchema):
    county_code = fields.String(required=True, validate=Pattern(r"^[0-9]{6}$"))
    threshold_fen = fields.Integer(
        strict=True,
        validate=validate.Range(min=1, max=MAX_PAYOUT_FEN),
        metadata={"description": "least available balance paid out (default from settings)"},
    )
    purpose = text(40, load_default="农产品销售货款", min_len=2)


class SkippedOut(Schema):
    household_id = fields.Integer(required=True)
    available_fen = fields.Integer(required=True)
    reason = fields.String(required=True, metadata={"description": "no_bank_account ..."})


class PayoutBatchOut(Schema):
    id = fields.Integer(required=True)
    county_code = fields.String(required=True)
    threshold_fen = fields.Integer(required=True)
    purpose = fields.String(required=True)
    total_fen = fields.Integer(required=True)
    lines = fields.List(fields.Nested(PayoutOut), required=True)
    skipped = fields.List(fields.Nested(SkippedOut), required=True)
    created_at = fields.DateTime(required=True)


BatchListOut = page_of(PayoutBatchOut, "PayoutBatchList")


class BatchFileQuery(InputSchema):
    format = fields.String(load_default="xlsx", validate=validate.OneOf(["xlsx", "csv"]))


class ConfirmLineIn(InputSchema):
    voucher_no = text(64, required=True, min_len=4)


class FailLineIn(InputSchema):
    reason = text(200, required=True, min_len=2)


class BeneficiaryVillageOut(Schema):
    code = fields.String(allow_none=True)
    name = fields.String(allow_none=True)


class BeneficiaryOut(Schema):
    shop_order_id = fields.Integer(required=True)
    village = fields.Nested(BeneficiaryVillageOut, required=True)
    name_masked = fields.String(required=True)
    amount_credited_fen = fields.Integer(required=True)
    payout_status = fields.String(
        required=True,
        metadata={"description": "unpaid, pending, refunded, available, in_flight or paid"},
    )
    paid_at = fields.DateTime(allow_none=True)


BeneficiaryListOut = page_of(BeneficiaryOut, "BeneficiaryList")


class ReachQuery(InputSchema):
    year = fields.Integer(validate=validate.Range(min=2020, max=2100))


class UnitReachOut(Schema):
    unit_id = fields.Integer(required=True)
    year = fields.Integer(required=True)
    bought_fen = fields.Integer(required=True)
    credited_fen = fields.Integer(
        required=True, metadata={"description": "reached households' accounts (completed parts)"}
    )
    households_reached = fields.Integer(required=True)
    villages_reached = fields.Integer(required=True)
    pledge_fen = fields.Integer(allow_none=True)
    pledge_left_fen = fields.Integer(allow_none=True)
