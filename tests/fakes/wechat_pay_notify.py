"""Callbacks as WeChat Pay posts them (wechat.md §4.5, §4.6, §4.8), good and bad, for tests to
post to the app with the Flask test client: no server-to-app HTTP is involved.

A mixin of ``FakeWeChatPay``: it reads the fake's orders, refunds and transfer bills so a good
callback agrees with what a query would say.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tests.fakes.wechat_pay_keys import digits, encrypt_resource, random_text

if TYPE_CHECKING:
    from tests.fakes.wechat_pay_server import FakeWeChatPay

NOTIFICATION_KINDS = (
    "good",  # verifies, decrypts, matches the order
    "duplicate",  # the last good one of this event and order again: same id, same content
    "stale",  # timestamp 10 minutes old (or pass timestamp= for any other time)
    "bad_signature",  # signed with another key
    "wrong_serial",  # signed with a key id the merchant does not have
    "signtest_probe",  # WeChat Pay's deliberate probe: WECHATPAY/SIGNTEST/...
    "wrong_amount",  # verifies, but the amount (total, refund, transfer_amount) is not the order's
    "unknown_order",  # verifies, about an out_trade_no (out_refund_no, out_bill_no) nobody placed
    "wrong_mchid",  # verifies, another merchant's mchid
    "wrong_appid",  # verifies, another appid (transactions only)
    "undecryptable",  # verifies, but the resource was encrypted with another APIv3 key
    "malformed",  # verifies and decrypts, but the resource is not JSON
)
_SIGNING = {
    "stale": "stale",
    "bad_signature": "wrong_key",
    "wrong_serial": "wrong_serial",
    "signtest_probe": "signtest",
}
TRANSFER_EVENT = "MCHTRANSFER.BILL.FINISHED"
_SUMMARY = {
    "TRANSACTION.SUCCESS": "支付成功",
    "REFUND.SUCCESS": "退款成功",
    "REFUND.ABNORMAL": "退款异常",
    "REFUND.CLOSED": "退款关闭",
    TRANSFER_EVENT: "商家转账单据终态通知",
}
_REFUND_STATUS = {
    "REFUND.SUCCESS": "SUCCESS",
    "REFUND.ABNORMAL": "ABNORMAL",
    "REFUND.CLOSED": "CLOSED",
}


class NotificationBuilder:
    def notification(
        self: FakeWeChatPay,
        kind: str = "good",
        *,
        out_trade_no: str | None = None,
        event: str = "TRANSACTION.SUCCESS",
        amount_fen: int | None = None,
        out_refund_no: str | None = None,
        out_bill_no: str | None = None,
        timestamp: datetime | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """``(headers, body)`` of a callback, exactly as WeChat Pay sends it.

        TRANSACTION.* needs ``out_trade_no`` of a placed order (TRANSACTION.SUCCESS pays it
        first if unpaid, as only a paid order is notified); REFUND.* needs ``out_refund_no``
        of a refund (which ends as the event says, if still PROCESSING);
        MCHTRANSFER.BILL.FINISHED needs ``out_bill_no`` of a transfer bill (which the user
        confirms first if it is not final yet: end it with ``fail_transfer`` or
        ``user_cancel_transfer`` before for the other outcomes). ``amount_fen`` replaces the
        amount in the resource; ``timestamp`` the signing time."""
        if kind not in NOTIFICATION_KINDS:
            raise ValueError(f"unknown notification kind {kind!r}")
        refund_event = event.startswith("REFUND.")
        transfer_event = event.startswith("MCHTRANSFER.")
        number = out_refund_no if refund_event else out_bill_no if transfer_event else out_trade_no
        sent_key = (event, number or "")
        with self._lock:
            envelope = self._sent.get(sent_key) if kind == "duplicate" else None
        if envelope is None:
            if refund_event:
                resource = self._refund_resource(kind, event, out_refund_no, amount_fen)
            elif transfer_event:
                resource = self._transfer_resource(kind, out_bill_no, amount_fen)
            else:
                resource = self._transaction_resource(kind, event, out_trade_no, amount_fen)
            envelope = self._envelope(kind, event, resource)
            if kind in ("good", "duplicate"):
                with self._lock:
                    self._sent[sent_key] = envelope
        body = json.dumps(envelope, ensure_ascii=False).encode()
        signed_at = None if timestamp is None else int(timestamp.timestamp())
        headers = self.signed_headers(body, timestamp=signed_at, how=_SIGNING.get(kind))
        return headers | {"Content-Type": "application/json"}, body

    def transfer_notification(
        self: FakeWeChatPay,
        out_bill_no: str | None,
        kind: str = "good",
        *,
        amount_fen: int | None = None,
        timestamp: datetime | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """``notification(kind, event="MCHTRANSFER.BILL.FINISHED", out_bill_no=...)``."""
        return self.notification(
            kind,
            event=TRANSFER_EVENT,
            out_bill_no=out_bill_no,
            amount_fen=amount_fen,
            timestamp=timestamp,
        )

    def _envelope(
        self: FakeWeChatPay, kind: str, event: str, resource: dict[str, Any]
    ) -> dict[str, Any]:
        original_type = "transaction"
        if event.startswith("REFUND."):
            original_type = "refund"
        elif event.startswith("MCHTRANSFER."):
            original_type = "mch_payment"
        plaintext = json.dumps(resource, ensure_ascii=False).encode()
        if kind == "malformed":
            plaintext = b"<xml>not json</xml>"
        apiv3_key = random_text(32) if kind == "undecryptable" else self.apiv3_key
        return {
            "id": str(uuid.uuid4()),
            "create_time": datetime.now().astimezone().isoformat(timespec="seconds"),
            "resource_type": "encrypt-resource",
            "event_type": event,
            "summary": _SUMMARY.get(event, event),
            "resource": {"original_type": original_type}
            | encrypt_resource(apiv3_key, plaintext, original_type),
        }

    def _transaction_resource(
        self: FakeWeChatPay,
        kind: str,
        event: str,
        out_trade_no: str | None,
        amount_fen: int | None,
    ) -> dict[str, Any]:
        known = out_trade_no is not None and self.order(out_trade_no) is not None
        if kind == "unknown_order":
            if known:
                raise ValueError(f"the fake knows order {out_trade_no}")
            total = amount_fen or 100
            return {
                "appid": self.appid,
                "mchid": self.mchid,
                "out_trade_no": out_trade_no or "UNKNOWN" + digits(20),
                "transaction_id": "42000" + digits(23),
                "trade_type": "JSAPI",
                "trade_state": "SUCCESS",
                "trade_state_desc": "支付成功",
                "bank_type": "OTHERS",
                "success_time": datetime.now().astimezone().isoformat(timespec="seconds"),
                "payer": {"openid": "o-unknown-" + random_text(12)},
                "amount": {
                    "total": total,
                    "payer_total": total,
                    "currency": "CNY",
                    "payer_currency": "CNY",
                },
            }
        if out_trade_no is None or not known:
            raise ValueError(f"place order {out_trade_no!r} first (or use kind='unknown_order')")
        current = self.order(out_trade_no)
        if event == "TRANSACTION.SUCCESS" and current and current["trade_state"] == "NOTPAY":
            self.pay(out_trade_no)
        resource = self.order(out_trade_no)
        assert resource is not None
        if event == "TRANSACTION.SUCCESS":  # the state it is about, even if refunded since
            resource |= {"trade_state": "SUCCESS", "trade_state_desc": "支付成功"}
        if kind == "wrong_amount" and amount_fen is None:
            amount_fen = resource["amount"]["total"] + 1
        if amount_fen is not None:
            resource["amount"] |= {"total": amount_fen, "payer_total": amount_fen}
        if kind == "wrong_mchid":
            resource["mchid"] = _another(self.mchid)
        if kind == "wrong_appid":
            resource["appid"] = "wx" + random_text(16).lower()
        return resource

    def _refund_resource(
        self: FakeWeChatPay,
        kind: str,
        event: str,
        out_refund_no: str | None,
        amount_fen: int | None,
    ) -> dict[str, Any]:
        status = _REFUND_STATUS.get(event, "SUCCESS")
        if kind == "wrong_appid":
            raise ValueError("refund callbacks carry no appid")
        if kind == "unknown_order":
            if out_refund_no is not None and self.refund_record(out_refund_no) is not None:
                raise ValueError(f"the fake knows refund {out_refund_no}")
            refund = amount_fen or 100
            record: dict[str, Any] = {
                "out_trade_no": "UNKNOWN" + digits(20),
                "transaction_id": "42000" + digits(23),
                "out_refund_no": out_refund_no or "RUNKNOWN" + digits(20),
                "refund_id": "50" + digits(30),
                "success_time": datetime.now().astimezone().isoformat(timespec="seconds"),
                "user_received_account": "支付用户零钱",
                "amount": {
                    "total": refund,
                    "refund": refund,
                    "payer_total": refund,
                    "payer_refund": refund,
                },
            }
        else:
            if out_refund_no is None or self.refund_record(out_refund_no) is None:
                raise ValueError(f"make refund {out_refund_no!r} first")
            self.complete_refund(out_refund_no, status)
            record = self.refund_record(out_refund_no) or {}
        amount = record["amount"]
        resource: dict[str, Any] = {
            "mchid": self.mchid,
            "out_trade_no": record["out_trade_no"],
            "transaction_id": record["transaction_id"],
            "out_refund_no": record["out_refund_no"],
            "refund_id": record["refund_id"],
            "refund_status": status,
            "user_received_account": record["user_received_account"],
            "amount": {
                key: amount[key] for key in ("total", "refund", "payer_total", "payer_refund")
            },
        }
        if status == "SUCCESS":
            resource["success_time"] = record.get("success_time")
        if kind == "wrong_amount" and amount_fen is None:
            amount_fen = amount["refund"] + 1
        if amount_fen is not None:
            resource["amount"] |= {"refund": amount_fen, "payer_refund": amount_fen}
        if kind == "wrong_mchid":
            resource["mchid"] = _another(self.mchid)
        return resource

    def _transfer_resource(
        self: FakeWeChatPay, kind: str, out_bill_no: str | None, amount_fen: int | None
    ) -> dict[str, Any]:
        if kind == "wrong_appid":
            raise ValueError("transfer callbacks carry no appid")
        if kind == "unknown_order":
            if out_bill_no is not None and self.transfer_record(out_bill_no) is not None:
                raise ValueError(f"the fake knows transfer {out_bill_no}")
            when = datetime.now().astimezone().isoformat(timespec="seconds")
            resource: dict[str, Any] = {
                "out_bill_no": out_bill_no or "UNKNOWN" + digits(20),
                "transfer_bill_no": "1330" + digits(36),
                "state": "SUCCESS",
                "mch_id": self.mchid,
                "transfer_amount": amount_fen or 100,
                "openid": "o-unknown-" + random_text(12),
                "create_time": when,
                "update_time": when,
            }
        else:
            if out_bill_no is None or self.transfer_record(out_bill_no) is None:
                raise ValueError(f"make transfer bill {out_bill_no!r} first")
            with self._lock:
                book = self._transfers
                bill = book.bills[out_bill_no]
                if not bill.final:
                    book.confirm(out_bill_no)
                resource = book.notification_json(bill)
        if kind == "wrong_amount" and amount_fen is None:
            amount_fen = resource["transfer_amount"] + 1
        if amount_fen is not None:
            resource["transfer_amount"] = amount_fen
        if kind == "wrong_mchid":
            resource["mch_id"] = _another(self.mchid)
        return resource


def _another(mchid: str) -> str:
    return "1900000001" if mchid != "1900000001" else "1900000002"
