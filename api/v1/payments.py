"""WeChat Pay's notifications. WeChat is the client here and gets WeChat's answers: 200
``{"code": "SUCCESS"}`` when the message is taken (applied, a duplicate, or recorded as an
anomaly for staff); 401 ``{"code": "FAIL"}`` when it cannot be verified (WeChat sends it again)."""

import logging

from flask import Response, jsonify, request

from api.blueprint import Blueprint
from api.schemas.orders import WeChatAnswerOut
from services import payments
from wechat import errors as wx

log = logging.getLogger(__name__)

blp = Blueprint("payments", __name__, url_prefix="/api/v1", description="微信支付通知")


def _take(kind: str) -> Response:
    try:
        payments.handle_wechat_notification(dict(request.headers), request.get_data())
    except wx.NotificationRejected as exc:
        # Logged, never applied: a forged or stale message changes nothing.
        log.warning("WeChat Pay %s notification refused: %s", kind, exc.reason)
        answer = jsonify({"code": "FAIL", "message": "验签失败"})
        answer.status_code = 401
        return answer
    return jsonify({"code": "SUCCESS", "message": "成功"})


@blp.route("/payments/wechat/notify", methods=["POST"])
@blp.response(200, WeChatAnswerOut, description="taken (a duplicate too: it changes nothing)")
@blp.alt_response(401, schema=WeChatAnswerOut, description="signature, key id or time refused")
def payment_notify():
    """TRANSACTION.SUCCESS notifications: verified, decrypted, checked against the order."""
    return _take("payment")


@blp.route("/payments/wechat/refund-notify", methods=["POST"])
@blp.response(200, WeChatAnswerOut, description="taken (a duplicate too: it changes nothing)")
@blp.alt_response(401, schema=WeChatAnswerOut, description="signature, key id or time refused")
def refund_notify():
    """REFUND.* notifications, handled with the same checks."""
    return _take("refund")
