"""A household's money: its balance, its ledger, its payouts and its bank account; who an
order's money reached; WeChat's transfer notifications."""

import logging

from flask import jsonify, request
from flask.views import MethodView

from api.auth import current_user, protected
from api.blueprint import Blueprint
from api.ledger_presenters import present_balance, present_payout
from api.schemas.ledger import (
    BalanceOut,
    BankAccountIn,
    BankAccountOut,
    BeneficiaryListOut,
    EntryListOut,
    LedgerQuery,
    PayoutIn,
    PayoutListOut,
    PayoutOut,
)
from api.schemas.orders import WeChatAnswerOut
from api.v1.orders import IDEMPOTENCY_HEADER
from services import payout_batches, payouts, statements
from services.error_codes import CommonError, PaymentError, PayoutError, RequestError
from services.idempotency import Idempotency
from wechat import errors as wx

log = logging.getLogger(__name__)

blp = Blueprint("payouts", __name__, url_prefix="/api/v1", description="农户收入与提现")


@blp.route("/households/<int:household_id>/balance")
@protected(blp)
@blp.response(200, BalanceOut)
@blp.errors(CommonError.NOT_FOUND)
def balance(household_id):
    """Pending (paid, held until the parts complete), available, in flight and paid out: for
    the household's members, helpers with its view_finances consent and its county's staff."""
    return present_balance(household_id, statements.balance(current_user(), household_id))


@blp.route("/households/<int:household_id>/ledger")
@protected(blp)
@blp.arguments(LedgerQuery, location="query")
@blp.response(200, EntryListOut)
@blp.errors(CommonError.NOT_FOUND, CommonError.INVALID_CURSOR)
def ledger_entries(query, household_id):
    """The household's own accounts' entries, newest first, each with the order, product and
    buyer unit behind it; per account they sum to the balance."""
    items, next_cursor = statements.entries(current_user(), household_id, **query)
    return {"items": items, "next_cursor": next_cursor}


@blp.route("/households/<int:household_id>/payouts")
class HouseholdPayouts(MethodView):
    @protected(blp)
    @blp.arguments(PayoutIn)
    @blp.response(201, PayoutOut)
    @blp.alt_response(202, schema=PayoutOut, description="WeChat's answer was lost: unclear")
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    @blp.errors(
        CommonError.NOT_FOUND,
        CommonError.FORBIDDEN,
        RequestError.IDEMPOTENCY_KEY_REQUIRED,
        RequestError.IDEMPOTENCY_KEY_INVALID,
        RequestError.IDEMPOTENCY_KEY_REUSED,
        PayoutError.INSUFFICIENT_BALANCE,
        PayoutError.DAILY_CAP_REACHED,
        PayoutError.AMOUNT_TOO_SMALL,
        PayoutError.NEEDS_MEMBER,
        PayoutError.CHANNEL_UNAVAILABLE,
        PayoutError.BANK_ACCOUNT_MISSING,
        PayoutError.BANK_PAYOUT_PENDING,
        PaymentError.WECHAT_IDENTITY_REQUIRED,
    )
    def post(self, data, household_id):
        """Pay out available money: by WeChat transfer to the member who asks (who confirms
        it in the mini-program with ``confirm_params``), or with the county's next bank batch.
        A WeChat request above today's cap pays the cap now; the rest stays available."""
        key = Idempotency.of(request.headers.get("Idempotency-Key"), "payout.request", data)
        done = payouts.request_payout(current_user(), household_id, request=key, **data)
        status = 202 if done.payout.state == "unclear" else 201
        return present_payout(done.payout), status

    @protected(blp)
    @blp.response(200, PayoutListOut)
    @blp.errors(CommonError.NOT_FOUND)
    def get(self, household_id):
        """The household's latest payouts, newest first."""
        found = payouts.list_payouts(current_user(), household_id)
        return {"items": [present_payout(p) for p in found], "next_cursor": None}


@blp.route("/payouts/<int:payout_id>")
@protected(blp)
@blp.response(200, PayoutOut)
@blp.errors(CommonError.NOT_FOUND)
def get_payout(payout_id):
    """One payout, for whoever may see its household's money."""
    return present_payout(payouts.get_payout(current_user(), payout_id))


@blp.route("/households/<int:household_id>/bank-account", methods=["PUT"])
@protected(blp)
@blp.arguments(BankAccountIn)
@blp.response(200, BankAccountOut)
@blp.errors(CommonError.NOT_FOUND, CommonError.FORBIDDEN, PayoutError.INVALID_BANK_ACCOUNT)
def set_bank_account(data, household_id):
    """Where the household's bank payouts go (惠农一卡通): county staff only, after checking
    it on paper. Answered masked."""
    household = payout_batches.set_bank_account(current_user(), household_id, **data)
    return {
        "household_id": household.id,
        "bank_name": household.bank_name,
        "account_name": household.bank_account_name,
        "account_masked": household.bank_account_masked,
    }


@blp.route("/orders/<int:order_id>/beneficiaries")
@protected(blp)
@blp.response(200, BeneficiaryListOut)
@blp.errors(CommonError.NOT_FOUND)
def beneficiaries(order_id):
    """Each household the order reached: village, masked name, what it was credited and
    whether that money has been paid out to it."""
    return {"items": statements.beneficiaries(current_user(), order_id), "next_cursor": None}


@blp.route("/payments/wechat/transfer-notify", methods=["POST"])
@blp.response(200, WeChatAnswerOut, description="taken (a duplicate too: it changes nothing)")
@blp.alt_response(401, schema=WeChatAnswerOut, description="signature, key id or time refused")
def transfer_notify():
    """MCHTRANSFER.BILL.FINISHED notifications: verified, decrypted, applied to the payout."""
    try:
        payouts.handle_transfer_notification(dict(request.headers), request.get_data())
    except wx.NotificationRejected as exc:
        log.warning("WeChat transfer notification refused: %s", exc.reason)
        answer = jsonify({"code": "FAIL", "message": "验签失败"})
        answer.status_code = 401
        return answer
    return jsonify({"code": "SUCCESS", "message": "成功"})
