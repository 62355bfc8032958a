"""What WeChat Pay answers, as frozen dataclasses (money in integer fen, times in UTC), and the
strict parsers that build them from verified JSON (wechat.md §4.4–4.6, §4.8)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


class Malformed(ValueError):
    """Verified JSON that is not what WeChat Pay documents."""


@dataclass(frozen=True)
class Transaction:
    """An order as WeChat Pay sees it (query answer or TRANSACTION.* callback).

    ``trade_state``: SUCCESS, NOTPAY, CLOSED, REFUND, REVOKED, USERPAYING or PAYERROR. Only
    SUCCESS (or REFUND: paid, then refunded in part or whole) means the buyer paid. Before
    payment ``transaction_id``, ``payer_total_fen``, ``success_time`` and ``payer_openid`` are
    None. Callers compare ``mchid``, ``appid`` and ``amount_total_fen`` with their order."""

    out_trade_no: str
    transaction_id: str | None
    trade_state: str
    mchid: str
    appid: str
    amount_total_fen: int | None
    payer_total_fen: int | None
    currency: str | None
    success_time: datetime | None
    payer_openid: str | None
    trade_state_desc: str = ""
    trade_type: str | None = None
    attach: str | None = None

    @property
    def paid(self) -> bool:
        return self.trade_state in ("SUCCESS", "REFUND")


@dataclass(frozen=True)
class Refund:
    """A refund (refund answer, refund query or REFUND.* callback).

    ``status``: SUCCESS, CLOSED, PROCESSING or ABNORMAL. A refund call answered 200 is only
    accepted (usually PROCESSING); the callback or a query says how it ended."""

    out_refund_no: str
    refund_id: str
    status: str
    refund_fen: int
    total_fen: int
    out_trade_no: str
    transaction_id: str | None
    success_time: datetime | None
    payer_refund_fen: int | None = None
    user_received_account: str | None = None


TRANSFER_STATES = (
    "ACCEPTED",
    "PROCESSING",
    "WAIT_USER_CONFIRM",
    "TRANSFERING",
    "SUCCESS",
    "FAIL",
    "CANCELING",
    "CANCELLED",
)
TRANSFER_FINAL_STATES = frozenset({"SUCCESS", "FAIL", "CANCELLED"})


@dataclass(frozen=True)
class TransferBill:
    """A 商家转账 bill (merchant transfer to a user's 零钱, wechat.md §4.8): the answer to
    create, query or cancel, or a MCHTRANSFER.BILL.FINISHED callback.

    ``state``: ACCEPTED, PROCESSING, WAIT_USER_CONFIRM (the user must confirm in the
    mini-program with ``package_info``), TRANSFERING, SUCCESS, FAIL, CANCELING or CANCELLED. Only
    SUCCESS, FAIL and CANCELLED are final; a state WeChat Pay may add later counts as not final.
    ``package_info`` comes only with a create answer in WAIT_USER_CONFIRM; ``amount_fen`` and
    ``openid`` only with queries and callbacks (None otherwise), which callers compare with their
    own bill, as they compare ``mchid`` when it is there."""

    out_bill_no: str
    transfer_bill_no: str | None
    state: str
    amount_fen: int | None = None
    openid: str | None = None
    package_info: str | None = None
    fail_reason: str | None = None
    create_time: datetime | None = None
    update_time: datetime | None = None
    mchid: str | None = None

    @property
    def final(self) -> bool:
        return self.state in TRANSFER_FINAL_STATES

    @property
    def succeeded(self) -> bool:
        return self.state == "SUCCESS"


@dataclass(frozen=True)
class Notification:
    """A verified, decrypted WeChat Pay callback. ``id`` is the same on every redelivery of one
    event: deduplicate on it. ``resource`` is the decrypted JSON; ``transaction`` / ``refund`` /
    ``transfer_bill`` its typed form for TRANSACTION.* / REFUND.* / MCHTRANSFER.* events (None
    otherwise)."""

    id: str
    event_type: str
    resource_type: str
    summary: str
    create_time: datetime | None
    resource: dict[str, Any]
    transaction: Transaction | None = None
    refund: Refund | None = None
    transfer_bill: TransferBill | None = None


# -- parsing ------------------------------------------------------------------------------


def _field(data: dict[str, Any], key: str) -> Any:
    if key not in data:
        raise Malformed(f"missing {key}")
    return data[key]


def req_str(data: dict[str, Any], key: str) -> str:
    value = _field(data, key)
    if not isinstance(value, str) or not value:
        raise Malformed(f"{key} is not a non-empty string")
    return value


def opt_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Malformed(f"{key} is not a string")
    return value


def opt_int(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Malformed(f"{key} is not an integer")
    return value


def req_int(data: dict[str, Any], key: str) -> int:
    value = opt_int(data, key)
    if value is None:
        raise Malformed(f"missing {key}")
    return value


def opt_dict(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Malformed(f"{key} is not an object")
    return value


def opt_time(data: dict[str, Any], key: str) -> datetime | None:
    """An RFC 3339 time (``2018-06-08T10:34:56+08:00``) as an aware UTC datetime."""
    text = opt_str(data, key)
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise Malformed(f"{key} is not an RFC 3339 time") from None
    if value.tzinfo is None:
        raise Malformed(f"{key} has no UTC offset")
    return value.astimezone(UTC)


def parse_transaction(data: dict[str, Any]) -> Transaction:
    amount = opt_dict(data, "amount")
    payer = opt_dict(data, "payer")
    return Transaction(
        out_trade_no=req_str(data, "out_trade_no"),
        transaction_id=opt_str(data, "transaction_id"),
        trade_state=req_str(data, "trade_state"),
        mchid=req_str(data, "mchid"),
        appid=req_str(data, "appid"),
        amount_total_fen=opt_int(amount, "total"),
        payer_total_fen=opt_int(amount, "payer_total"),
        currency=opt_str(amount, "currency"),
        success_time=opt_time(data, "success_time"),
        payer_openid=opt_str(payer, "openid"),
        trade_state_desc=opt_str(data, "trade_state_desc") or "",
        trade_type=opt_str(data, "trade_type"),
        attach=opt_str(data, "attach"),
    )


def parse_refund(data: dict[str, Any]) -> Refund:
    """A refund answer (``status``) or a REFUND.* resource (``refund_status``)."""
    amount = opt_dict(data, "amount")
    status = opt_str(data, "status") or opt_str(data, "refund_status")
    if status is None:
        raise Malformed("missing status")
    return Refund(
        out_refund_no=req_str(data, "out_refund_no"),
        refund_id=req_str(data, "refund_id"),
        status=status,
        refund_fen=req_int(amount, "refund"),
        total_fen=req_int(amount, "total"),
        out_trade_no=req_str(data, "out_trade_no"),
        transaction_id=opt_str(data, "transaction_id"),
        success_time=opt_time(data, "success_time"),
        payer_refund_fen=opt_int(amount, "payer_refund"),
        user_received_account=opt_str(data, "user_received_account"),
    )


def parse_transfer_bill(data: dict[str, Any]) -> TransferBill:
    """A create / query / cancel answer or a MCHTRANSFER.BILL.FINISHED resource."""
    return TransferBill(
        out_bill_no=req_str(data, "out_bill_no"),
        transfer_bill_no=opt_str(data, "transfer_bill_no"),
        state=req_str(data, "state"),
        amount_fen=opt_int(data, "transfer_amount"),
        openid=opt_str(data, "openid"),
        package_info=opt_str(data, "package_info"),
        fail_reason=opt_str(data, "fail_reason"),
        create_time=opt_time(data, "create_time"),
        update_time=opt_time(data, "update_time"),
        mchid=opt_str(data, "mch_id"),
    )


def parse_notification(envelope: dict[str, Any], resource: dict[str, Any]) -> Notification:
    event_type = req_str(envelope, "event_type")
    transaction = parse_transaction(resource) if event_type.startswith("TRANSACTION.") else None
    refund = parse_refund(resource) if event_type.startswith("REFUND.") else None
    transfer_bill = parse_transfer_bill(resource) if event_type.startswith("MCHTRANSFER.") else None
    return Notification(
        id=req_str(envelope, "id"),
        event_type=event_type,
        resource_type=opt_str(envelope, "resource_type") or "",
        summary=opt_str(envelope, "summary") or "",
        create_time=opt_time(envelope, "create_time"),
        resource=resource,
        transaction=transaction,
        refund=refund,
        transfer_bill=transfer_bill,
    )
