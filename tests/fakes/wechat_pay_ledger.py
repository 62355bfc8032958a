"""The fake WeChat Pay's books: orders and refunds in memory, and what each API does to them
(wechat.md §4.4, §4.6). Not thread-safe by itself: ``FakeWeChatPay`` calls it under its lock."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from tests.fakes.wechat_pay_keys import digits

CHINA_TZ = timezone(timedelta(hours=8))
_OUT_TRADE_NO = re.compile(r"[0-9A-Za-z_\-|*]{6,32}")
_OUT_REFUND_NO = re.compile(r"[0-9A-Za-z_\-|*@]{1,64}")
_STATE_DESC = {
    "NOTPAY": "订单未支付",
    "SUCCESS": "支付成功",
    "CLOSED": "订单已关闭",
    "REFUND": "转入退款",
}

Answer = tuple[int, dict[str, Any] | None]


def now_text() -> str:
    return datetime.now(CHINA_TZ).isoformat(timespec="seconds")


def error(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


@dataclass
class _Order:
    out_trade_no: str
    terms: dict[str, Any]  # what the merchant sent; a repeat must send the same
    prepay_id: str
    trade_state: str = "NOTPAY"
    transaction_id: str | None = None
    success_time: str | None = None
    payer_total_fen: int | None = None

    @property
    def amount_fen(self) -> int:
        return int(self.terms["amount"]["total"])


@dataclass
class _Refund:
    out_refund_no: str
    refund_id: str
    out_trade_no: str
    refund_fen: int
    total_fen: int
    terms: dict[str, Any]
    create_time: str = field(default_factory=now_text)
    status: str = "PROCESSING"
    success_time: str | None = None


class PayLedger:
    def __init__(self, mchid: str, appid: str) -> None:
        self.mchid = mchid
        self.appid = appid
        self.orders: dict[str, _Order] = {}
        self.refunds: dict[str, _Refund] = {}

    # -- test controls --------------------------------------------------------------------

    def pay(self, out_trade_no: str, *, payer_total_fen: int | None = None) -> dict[str, Any]:
        order = self.orders[out_trade_no]
        if order.trade_state != "NOTPAY":
            raise ValueError(f"order {out_trade_no} is {order.trade_state}, not NOTPAY")
        expire = order.terms.get("time_expire")
        if expire and datetime.fromisoformat(expire) < datetime.now(CHINA_TZ):
            raise ValueError(f"order {out_trade_no} expired at {expire}")
        order.trade_state = "SUCCESS"
        order.transaction_id = "42000" + datetime.now(CHINA_TZ).strftime("%Y%m%d") + digits(15)
        order.success_time = now_text()
        order.payer_total_fen = order.amount_fen if payer_total_fen is None else payer_total_fen
        return self.transaction_json(order)

    def complete_refund(self, out_refund_no: str, status: str = "SUCCESS") -> dict[str, Any]:
        if status not in ("SUCCESS", "CLOSED", "ABNORMAL"):
            raise ValueError(f"a refund cannot end as {status}")
        refund = self.refunds[out_refund_no]
        if refund.status == "PROCESSING":
            refund.status = status
            if status == "SUCCESS":
                refund.success_time = now_text()
        return self.refund_json(refund)

    # -- the APIs -------------------------------------------------------------------------

    def prepay(self, data: Any) -> Answer:
        problem = prepay_problem(data)
        if problem is not None:
            return 400, error("PARAM_ERROR", problem)
        if data["appid"] != self.appid:
            return 400, error("APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
        if data["mchid"] != self.mchid:
            return 400, error("PARAM_ERROR", "商户号与请求方不一致")
        no = data["out_trade_no"]
        terms = {key: value for key, value in data.items() if key != "out_trade_no"}
        terms["amount"] = {"currency": "CNY"} | terms["amount"]
        order = self.orders.get(no)
        if order is None:
            stamp = datetime.now(CHINA_TZ).strftime("%Y%m%d%H%M%S")
            order = _Order(no, terms, prepay_id=f"wx{stamp}{secrets.token_hex(10)}")
            self.orders[no] = order
        elif order.trade_state in ("SUCCESS", "REFUND"):
            return 400, error("ORDERPAID", "该订单已支付")
        elif order.trade_state == "CLOSED":
            return 400, error("ORDER_CLOSED", "订单已关闭")
        elif order.terms != terms:
            return 400, error("INVALID_REQUEST", "201 商户订单号重复")
        return 200, {"prepay_id": order.prepay_id}

    def query(self, no: str, mchid: str | None) -> Answer:
        if mchid != self.mchid:
            return 400, error("PARAM_ERROR", "mchid与请求方不一致")
        order = self.orders.get(no)
        if order is None:
            return 404, error("ORDER_NOT_EXIST", "订单不存在")
        return 200, self.transaction_json(order)

    def close(self, no: str, data: Any) -> Answer:
        if not isinstance(data, dict) or data.get("mchid") != self.mchid:
            return 400, error("PARAM_ERROR", "mchid与请求方不一致")
        order = self.orders.get(no)
        if order is None:
            return 404, error("ORDER_NOT_EXIST", "订单不存在")
        if order.trade_state in ("SUCCESS", "REFUND"):
            return 400, error("ORDERPAID", "该订单已支付")
        order.trade_state = "CLOSED"
        return 204, None

    def refund(self, data: Any) -> Answer:
        problem = refund_problem(data)
        if problem is not None:
            return 400, error("PARAM_ERROR", problem)
        amount = data["amount"]
        existing = self.refunds.get(data["out_refund_no"])
        if existing is not None:  # the same number refunds once
            if existing.terms != data:
                return 400, error("INVALID_REQUEST", "退款单号已被使用，请求参数不一致")
            return 200, self.refund_json(existing)
        order = self.orders.get(data["out_trade_no"])
        if order is None:
            return 404, error("RESOURCE_NOT_EXISTS", "订单不存在")
        if order.trade_state not in ("SUCCESS", "REFUND"):
            return 400, error("INVALID_REQUEST", "订单未支付，不能退款")
        if amount["total"] != order.amount_fen:
            return 400, error("INVALID_REQUEST", "订单金额与原订单不一致")
        refunded = sum(
            r.refund_fen
            for r in self.refunds.values()
            if r.out_trade_no == order.out_trade_no and r.status != "CLOSED"
        )
        if refunded + amount["refund"] > order.amount_fen:
            return 403, error("NOT_ENOUGH", "可退金额不足")
        refund = _Refund(
            data["out_refund_no"],
            refund_id="50" + digits(30),
            out_trade_no=order.out_trade_no,
            refund_fen=amount["refund"],
            total_fen=amount["total"],
            terms=data,
        )
        self.refunds[refund.out_refund_no] = refund
        order.trade_state = "REFUND"
        return 200, self.refund_json(refund)

    def query_refund(self, no: str) -> Answer:
        refund = self.refunds.get(no)
        if refund is None:
            return 404, error("RESOURCE_NOT_EXISTS", "退款单不存在")
        return 200, self.refund_json(refund)

    # -- JSON shapes ------------------------------------------------------------------------

    def transaction_json(self, order: _Order) -> dict[str, Any]:
        terms = order.terms
        data: dict[str, Any] = {
            "appid": terms["appid"],
            "mchid": terms["mchid"],
            "out_trade_no": order.out_trade_no,
            "trade_type": "JSAPI",
            "trade_state": order.trade_state,
            "trade_state_desc": _STATE_DESC[order.trade_state],
            "amount": {"total": order.amount_fen, "currency": "CNY"},
        }
        if "attach" in terms:
            data["attach"] = terms["attach"]
        if order.transaction_id is not None:
            data |= {
                "transaction_id": order.transaction_id,
                "bank_type": "OTHERS",
                "success_time": order.success_time,
                "payer": {"openid": terms["payer"]["openid"]},
            }
            data["amount"] |= {"payer_total": order.payer_total_fen, "payer_currency": "CNY"}
        return data

    def _payer_refund(self, refund: _Refund) -> int:
        order = self.orders[refund.out_trade_no]
        payer_total = order.payer_total_fen or order.amount_fen
        return refund.refund_fen * payer_total // order.amount_fen

    def refund_json(self, refund: _Refund) -> dict[str, Any]:
        order = self.orders[refund.out_trade_no]
        data: dict[str, Any] = {
            "refund_id": refund.refund_id,
            "out_refund_no": refund.out_refund_no,
            "transaction_id": order.transaction_id,
            "out_trade_no": refund.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "create_time": refund.create_time,
            "status": refund.status,
            "funds_account": "AVAILABLE",
            "amount": {
                "total": refund.total_fen,
                "refund": refund.refund_fen,
                "payer_total": order.payer_total_fen,
                "payer_refund": self._payer_refund(refund),
                "settlement_total": refund.total_fen,
                "settlement_refund": refund.refund_fen,
                "discount_refund": refund.refund_fen - self._payer_refund(refund),
                "currency": "CNY",
                "refund_fee": 0,
            },
            "promotion_detail": [],
        }
        if refund.success_time is not None:
            data["success_time"] = refund.success_time
        return data


# -- request checks ------------------------------------------------------------------------


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _notify_url_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not value.startswith("https://") or len(value) > 256:
        return "notify_url 必须是 https 地址"
    if "?" in value:
        return "notify_url 不能携带参数"
    return None


def prepay_problem(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "请求体不是合法的JSON"
    for key in ("appid", "mchid", "description", "out_trade_no", "notify_url"):
        if not isinstance(data.get(key), str) or not data[key]:
            return f"缺少参数 {key}"
    if len(data["description"]) > 127:
        return "description 过长"
    if not _OUT_TRADE_NO.fullmatch(data["out_trade_no"]):
        return "out_trade_no 格式错误"
    amount, payer = data.get("amount"), data.get("payer")
    if not isinstance(amount, dict) or not _positive_int(amount.get("total")):
        return "amount.total 必须是正整数（分）"
    if amount.get("currency", "CNY") != "CNY":
        return "amount.currency 只支持 CNY"
    if not isinstance(payer, dict) or not isinstance(payer.get("openid"), str):
        return "缺少参数 payer.openid"
    if "attach" in data and (not isinstance(data["attach"], str) or len(data["attach"]) > 128):
        return "attach 过长"
    if "time_expire" in data:
        try:
            expire = datetime.fromisoformat(data["time_expire"])
        except (TypeError, ValueError):
            return "time_expire 格式错误"
        if expire.tzinfo is None:
            return "time_expire 缺少时区"
    return _notify_url_problem(data["notify_url"])


def refund_problem(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "请求体不是合法的JSON"
    if not isinstance(data.get("out_trade_no"), str):
        return "缺少参数 out_trade_no"
    if not isinstance(data.get("out_refund_no"), str) or not _OUT_REFUND_NO.fullmatch(
        data["out_refund_no"]
    ):
        return "out_refund_no 格式错误"
    if "reason" in data and (not isinstance(data["reason"], str) or len(data["reason"]) > 80):
        return "reason 过长"
    amount = data.get("amount")
    if not isinstance(amount, dict):
        return "缺少参数 amount"
    if not _positive_int(amount.get("refund")) or not _positive_int(amount.get("total")):
        return "amount.refund 和 amount.total 必须是正整数（分）"
    if amount.get("currency") != "CNY":
        return "amount.currency 只支持 CNY"
    if "notify_url" in data:
        return _notify_url_problem(data["notify_url"])
    return None
