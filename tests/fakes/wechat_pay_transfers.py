"""The fake WeChat Pay's 商家转账 book (wechat.md §4.8): transfer bills in memory and what
create, query and cancel do to them. Not thread-safe by itself: ``FakeWeChatPay`` calls it
under its lock.

As WeChat Pay: a new bill waits for the user (WAIT_USER_CONFIRM, with an opaque
``package_info`` for ``wx.requestMerchantTransfer``); the same out_bill_no again with the same
amount and openid answers the existing bill, with others it is refused; from 200,000 fen the
payee's name is required, RSA-OAEP encrypted for the platform key named by Wechatpay-Serial.
Tests end a bill with ``confirm`` (the user took the money), ``fail`` or ``user_cancel``.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.wechat_pay_keys import digits
from tests.fakes.wechat_pay_ledger import Answer, error, now_text

USER_NAME_REQUIRED_FROM_FEN = 200_000
FINAL_STATES = frozenset({"SUCCESS", "FAIL", "CANCELLED"})
# States a merchant may still cancel: the user has not confirmed yet.
CANCELLABLE_STATES = frozenset({"ACCEPTED", "PROCESSING", "WAIT_USER_CONFIRM"})
# The info_type values of the scenes wechat.md §4.8 names; other scenes take any.
SCENE_INFO_TYPES = {
    "1000": frozenset({"活动名称", "奖励说明"}),
    "1005": frozenset({"岗位类型", "报酬说明"}),
    "1011": frozenset({"赔付原因"}),
}
REPORT_INFOS_MISSING = "需传入转账场景报备信息"
_OUT_BILL_NO = re.compile(r"[0-9A-Za-z]{1,32}")


@dataclass
class _Bill:
    out_bill_no: str
    transfer_bill_no: str
    terms: dict[str, Any]  # what the merchant sent (user_name as sent: encrypted)
    user_name: str | None  # as WeChat Pay read it
    package_info: str
    state: str = "WAIT_USER_CONFIRM"
    fail_reason: str | None = None
    create_time: str = field(default_factory=now_text)
    update_time: str = ""

    def __post_init__(self) -> None:
        self.update_time = self.update_time or self.create_time

    @property
    def amount_fen(self) -> int:
        return int(self.terms["transfer_amount"])

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    def move(self, state: str, *, fail_reason: str | None = None) -> None:
        self.state = state
        self.fail_reason = fail_reason
        self.update_time = now_text()


class TransferBook:
    def __init__(self, mchid: str, appid: str, decrypt: Callable[[str], str]) -> None:
        self.mchid = mchid
        self.appid = appid
        self._decrypt = decrypt
        self.bills: dict[str, _Bill] = {}

    # -- test controls --------------------------------------------------------------------

    def confirm(self, out_bill_no: str) -> dict[str, Any]:
        """The user confirmed receipt in the mini-program: the money is in their 零钱."""
        bill = self._bill(out_bill_no)
        if bill.state not in ("ACCEPTED", "PROCESSING", "WAIT_USER_CONFIRM", "TRANSFERING"):
            raise ValueError(f"transfer {out_bill_no} is {bill.state}, it cannot succeed")
        bill.move("SUCCESS")
        return self.bill_json(bill)

    def fail(self, out_bill_no: str, reason: str) -> dict[str, Any]:
        bill = self._bill(out_bill_no)
        if bill.state in FINAL_STATES:
            raise ValueError(f"transfer {out_bill_no} is already {bill.state}")
        bill.move("FAIL", fail_reason=reason)
        return self.bill_json(bill)

    def user_cancel(self, out_bill_no: str) -> dict[str, Any]:
        """The user refused, or let the confirmation lapse: WeChat Pay cancels the bill."""
        bill = self._bill(out_bill_no)
        if bill.state not in CANCELLABLE_STATES | {"TRANSFERING"}:
            raise ValueError(f"transfer {out_bill_no} is {bill.state}, it cannot be cancelled")
        bill.move("CANCELLED")
        return self.bill_json(bill)

    def _bill(self, out_bill_no: str) -> _Bill:
        bill = self.bills.get(out_bill_no)
        if bill is None:
            raise KeyError(f"no transfer bill {out_bill_no}")
        return bill

    # -- the APIs -------------------------------------------------------------------------

    def create(self, data: Any, serial: str | None, public_key_id: str) -> Answer:
        problem = create_problem(data)
        if problem is not None:
            return 400, error("PARAM_ERROR", problem)
        if data["appid"] != self.appid:
            return 400, error("APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
        user_name: str | None = None
        if "user_name" in data:
            if serial != public_key_id:
                return 400, error("PARAM_ERROR", "Wechatpay-Serial 与加密敏感信息的公钥不一致")
            try:
                user_name = self._decrypt(data["user_name"])
            except ValueError:
                return 400, error("PARAM_ERROR", "user_name 解密失败")
        elif data["transfer_amount"] >= USER_NAME_REQUIRED_FROM_FEN:
            return 400, error("PARAM_ERROR", "转账金额>=2000元时，收款用户姓名必填")
        existing = self.bills.get(data["out_bill_no"])
        if existing is not None:
            same = all(existing.terms[key] == data[key] for key in ("transfer_amount", "openid"))
            if not same:
                return 400, error("INVALID_REQUEST", "商户单号已存在但信息不一致，请查单后比较确认")
            return 200, self.create_json(existing)
        bill = _Bill(
            data["out_bill_no"],
            transfer_bill_no="1330" + digits(36),
            terms={key: value for key, value in data.items() if key != "out_bill_no"},
            user_name=user_name,
            package_info=base64.b64encode(secrets.token_bytes(60)).decode(),
        )
        self.bills[bill.out_bill_no] = bill
        return 200, self.create_json(bill)

    def query(self, no: str) -> Answer:
        bill = self.bills.get(no)
        if bill is None:
            return 404, error("NOT_FOUND", "记录不存在")
        return 200, self.bill_json(bill)

    def cancel(self, no: str) -> Answer:
        bill = self.bills.get(no)
        if bill is None:
            return 404, error("NOT_FOUND", "记录不存在")
        if bill.state not in CANCELLABLE_STATES:
            return 400, error("INVALID_REQUEST", f"转账单状态为{bill.state}，不允许撤销")
        bill.move("CANCELLED")
        return 200, {
            "out_bill_no": bill.out_bill_no,
            "transfer_bill_no": bill.transfer_bill_no,
            "state": bill.state,
            "update_time": bill.update_time,
        }

    # -- JSON shapes ------------------------------------------------------------------------

    def create_json(self, bill: _Bill) -> dict[str, Any]:
        data: dict[str, Any] = {
            "out_bill_no": bill.out_bill_no,
            "transfer_bill_no": bill.transfer_bill_no,
            "create_time": bill.create_time,
            "state": bill.state,
        }
        if bill.state == "WAIT_USER_CONFIRM":
            data["package_info"] = bill.package_info
        if bill.fail_reason is not None:
            data["fail_reason"] = bill.fail_reason
        return data

    def bill_json(self, bill: _Bill) -> dict[str, Any]:
        """The bill as a query shows it (the payee's name left out)."""
        data: dict[str, Any] = {
            "mch_id": self.mchid,
            "out_bill_no": bill.out_bill_no,
            "transfer_bill_no": bill.transfer_bill_no,
            "appid": bill.terms["appid"],
            "state": bill.state,
            "transfer_amount": bill.amount_fen,
            "transfer_remark": bill.terms["transfer_remark"],
            "openid": bill.terms["openid"],
            "create_time": bill.create_time,
            "update_time": bill.update_time,
        }
        if bill.fail_reason is not None:
            data["fail_reason"] = bill.fail_reason
        return data

    def notification_json(self, bill: _Bill) -> dict[str, Any]:
        """The decrypted resource of MCHTRANSFER.BILL.FINISHED."""
        data: dict[str, Any] = {
            "out_bill_no": bill.out_bill_no,
            "transfer_bill_no": bill.transfer_bill_no,
            "state": bill.state,
            "mch_id": self.mchid,
            "transfer_amount": bill.amount_fen,
            "openid": bill.terms["openid"],
            "create_time": bill.create_time,
            "update_time": bill.update_time,
        }
        if bill.fail_reason is not None:
            data["fail_reason"] = bill.fail_reason
        return data


# -- request checks ------------------------------------------------------------------------


def create_problem(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "请求体不是合法的JSON"
    for key in ("appid", "out_bill_no", "transfer_scene_id", "openid", "transfer_remark"):
        if not isinstance(data.get(key), str) or not data[key]:
            return f"缺少参数 {key}"
    if not _OUT_BILL_NO.fullmatch(data["out_bill_no"]):
        return "out_bill_no 只能由数字、大小写字母组成，最长32位"
    amount = data.get("transfer_amount")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        return "transfer_amount 必须是正整数（分）"
    if len(data["transfer_remark"]) > 32:
        return "transfer_remark 最多32个字符"
    if "user_name" in data and (not isinstance(data["user_name"], str) or not data["user_name"]):
        return "user_name 格式错误"
    if "user_recv_perception" in data and not isinstance(data["user_recv_perception"], str):
        return "user_recv_perception 格式错误"
    if _report_infos_problem(data["transfer_scene_id"], data.get("transfer_scene_report_infos")):
        return REPORT_INFOS_MISSING
    if "notify_url" in data:
        url = data["notify_url"]
        if not isinstance(url, str) or not url.startswith("https://") or len(url) > 256:
            return "notify_url 必须是 https 地址"
        if "?" in url:
            return "notify_url 不能携带参数"
    return None


def _report_infos_problem(scene_id: str, infos: Any) -> bool:
    if not isinstance(infos, list) or not infos:
        return True
    for info in infos:
        if not isinstance(info, dict) or set(info) != {"info_type", "info_content"}:
            return True
        if not all(isinstance(value, str) and value for value in info.values()):
            return True
    wanted = SCENE_INFO_TYPES.get(scene_id)
    given = [info["info_type"] for info in infos]
    return wanted is not None and (len(given) != len(wanted) or set(given) != wanted)
