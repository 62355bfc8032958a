"""商家转账 (merchant transfer to a user's 零钱, the API of merchants onboarded since 2025,
wechat.md §4.8) for ``WeChatPayClient``, which inherits ``TransferBills``.

A transfer is a bill the user must confirm: create answers WAIT_USER_CONFIRM with a
``package_info`` that the mini-program passes to ``wx.requestMerchantTransfer``; the
MCHTRANSFER.BILL.FINISHED callback or a query tells how it ended (SUCCESS, FAIL or CANCELLED).

out_bill_no is the idempotency key. WeChat Pay's rule: when create did not answer 200, never
change out_bill_no. Query it: PayNotFound means the bill was never made, so create again with the
same number; only a bill that is FAIL (or CANCELLED) may be replaced by one with a new number.
Creating again with the same number and the same amount and openid answers the existing bill.
"""

from __future__ import annotations

import re
from typing import Any, Protocol
from urllib.parse import quote

from wechat.errors import PayUnavailable
from wechat.pay_models import Malformed, TransferBill, parse_transfer_bill

# From ¥2,000 (200,000 fen) WeChat Pay requires the payee's real name (user_name).
USER_NAME_REQUIRED_FROM_FEN = 200_000
# transfer_remark is shown to the user; WeChat Pay takes at most 32 characters.
TRANSFER_REMARK_MAX = 32

_BILLS = "/v3/fund-app/mch-transfer/transfer-bills"
_OUT_BILL_NO = re.compile(r"[0-9A-Za-z]{1,32}")
_CANCEL_STATES = frozenset({"CANCELING", "CANCELLED"})


class _PayHost(Protocol):
    """What the mixin uses of ``WeChatPayClient``."""

    appid: str
    mchid: str

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None: ...

    def sensitive_encrypt(self, text: str) -> str: ...


class TransferBills:
    """商家转账 calls of ``WeChatPayClient``. Errors are those of every call: PayRequestInvalid
    (and subclasses such as PayNotEnough) for a definite refusal, PayNotFound when WeChat Pay has
    no such bill, PayUnavailable (PayBusy, a timeout, a malformed answer) when the outcome is
    unknown: query, then retry with the same out_bill_no. Bad arguments raise ValueError before
    any request."""

    USER_NAME_REQUIRED_FROM_FEN = USER_NAME_REQUIRED_FROM_FEN

    def create_transfer_bill(
        self: _PayHost,
        *,
        out_bill_no: str,
        openid: str,
        amount_fen: int,
        remark: str,
        notify_url: str,
        scene_id: str,
        report_infos: list[dict[str, str]],
        user_name: str | None = None,
        user_recv_perception: str | None = None,
    ) -> TransferBill:
        """Create a transfer bill; usually answered WAIT_USER_CONFIRM with ``package_info``.

        ``remark`` (≤32 characters) is shown to the user. ``report_infos`` are the
        ``{"info_type", "info_content"}`` pairs the scene ``scene_id`` requires (for 1005
        佣金报酬: 岗位类型 and 报酬说明). ``user_name``, the payee's real name, is sent
        RSA-OAEP encrypted; WeChat Pay checks it against the account, and requires it from
        USER_NAME_REQUIRED_FROM_FEN on (ValueError here without it)."""
        from wechat.pay import _check_fen  # wechat.pay imports this module

        check_out_bill_no(out_bill_no)
        _check_fen("amount_fen", amount_fen)
        _check_text("openid", openid)
        _check_text("scene_id", scene_id)
        _check_text("notify_url", notify_url)
        _check_text("remark", remark)
        if len(remark) > TRANSFER_REMARK_MAX:
            raise ValueError(f"remark must be at most {TRANSFER_REMARK_MAX} characters")
        infos = _report_infos(report_infos)
        if user_name is not None:
            _check_text("user_name", user_name)
        elif amount_fen >= USER_NAME_REQUIRED_FROM_FEN:
            raise ValueError(
                f"user_name is required from {USER_NAME_REQUIRED_FROM_FEN} fen "
                f"(amount_fen={amount_fen})"
            )
        if user_recv_perception is not None:
            _check_text("user_recv_perception", user_recv_perception)
        body: dict[str, Any] = {
            "appid": self.appid,
            "out_bill_no": out_bill_no,
            "transfer_scene_id": scene_id,
            "openid": openid,
        }
        if user_name is not None:
            # _call always sends Wechatpay-Serial: the id of the key this is encrypted for.
            body["user_name"] = self.sensitive_encrypt(user_name)
        body |= {
            "transfer_amount": amount_fen,
            "transfer_remark": remark,
            "notify_url": notify_url,
        }
        if user_recv_perception is not None:
            body["user_recv_perception"] = user_recv_perception
        body["transfer_scene_report_infos"] = infos
        return _bill_from(self, _BILLS, self._call("POST", _BILLS, body=body), out_bill_no)

    def query_transfer_bill(self: _PayHost, out_bill_no: str) -> TransferBill:
        """The bill as WeChat Pay has it now; PayNotFound if it was never made."""
        check_out_bill_no(out_bill_no)
        path = f"{_BILLS}/out-bill-no/{quote(out_bill_no, safe='')}"
        return _bill_from(self, path, self._call("GET", path), out_bill_no)

    def cancel_transfer_bill(self: _PayHost, out_bill_no: str) -> TransferBill:
        """Withdraw a bill the user has not confirmed yet; answered CANCELING or CANCELLED
        (a query or the callback says when it is CANCELLED). A bill past that point (confirmed,
        or already final) is refused with PayRequestInvalid."""
        check_out_bill_no(out_bill_no)
        path = f"{_BILLS}/out-bill-no/{quote(out_bill_no, safe='')}/cancel"
        bill = _bill_from(self, path, self._call("POST", path), out_bill_no)
        if bill.state not in _CANCEL_STATES:
            raise _unreadable(path, f"cancel answered state {bill.state}")
        return bill


def check_out_bill_no(value: str) -> None:
    # Also keeps anything odd out of the URL path.
    if not isinstance(value, str) or not _OUT_BILL_NO.fullmatch(value):
        raise ValueError("out_bill_no must be 1-32 characters of [0-9A-Za-z]")


def _check_text(name: str, value: str) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string")


def _report_infos(infos: list[dict[str, str]]) -> list[dict[str, str]]:
    if not isinstance(infos, list) or not infos:
        raise ValueError("report_infos must list the scene's {info_type, info_content} pairs")
    copied = []
    for info in infos:
        if not isinstance(info, dict) or set(info) != {"info_type", "info_content"}:
            raise ValueError("each report_infos entry must be {info_type, info_content}")
        _check_text("info_type", info["info_type"])
        _check_text("info_content", info["info_content"])
        copied.append({"info_type": info["info_type"], "info_content": info["info_content"]})
    return copied


def _bill_from(
    host: _PayHost, path: str, payload: dict[str, Any] | None, out_bill_no: str
) -> TransferBill:
    if payload is None:
        raise _unreadable(path, "empty answer")
    try:
        bill = parse_transfer_bill(payload)
    except Malformed as exc:
        raise _unreadable(path, str(exc)) from None
    if bill.out_bill_no != out_bill_no:
        raise _unreadable(path, "the answer is about another transfer bill")
    if bill.mchid is not None and bill.mchid != host.mchid:
        raise _unreadable(path, "the answer is about another merchant's bill")
    return bill


def _unreadable(path: str, detail: str) -> PayUnavailable:
    from wechat.pay import _malformed  # wechat.pay imports this module

    return _malformed(path, detail)
