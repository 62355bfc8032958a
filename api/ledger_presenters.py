"""Payouts, batches and balances as clients see them (bank numbers masked, the WeChat
confirmation parameters only while WeChat waits for the farmer)."""

from __future__ import annotations

from flask import current_app

from models import Payout, PayoutBatch
from models.enums import PayoutState
from services import ledger


def present_payout(payout: Payout) -> dict:
    waiting = payout.state == PayoutState.WAIT_USER_CONFIRM and payout.package_info
    return {
        "id": payout.id,
        "household_id": payout.seller_id,
        "channel": payout.channel,
        "state": payout.state,
        "amount_fen": payout.amount_fen,
        "requested_fen": payout.requested_fen,
        "out_bill_no": payout.out_bill_no,
        "package_info": payout.package_info if waiting else None,
        "confirm_params": {
            "mchId": current_app.config["WECHATPAY_MCHID"],
            "appId": current_app.config["WECHAT_APPID"],
            "package": payout.package_info,
            "openId": payout.openid,
        }
        if waiting
        else None,
        "provider_state": payout.provider_state,
        "bank_name": payout.bank_name,
        "bank_account_masked": payout.bank_account_masked,
        "voucher_no": payout.voucher_no,
        "batch_id": payout.batch_id,
        "fail_reason": payout.fail_reason,
        "created_at": payout.created_at,
        "settled_at": payout.settled_at,
    }


def present_balance(household_id: int, balance: ledger.Balance) -> dict:
    return {"household_id": household_id, **balance.__dict__}


def present_batch(batch: PayoutBatch, lines: list[Payout], skipped=()) -> dict:
    return {
        "id": batch.id,
        "county_code": batch.county_code,
        "threshold_fen": batch.threshold_fen,
        "purpose": batch.purpose,
        "total_fen": sum(p.amount_fen for p in lines if p.state != PayoutState.FAILED),
        "lines": [present_payout(p) for p in lines],
        "skipped": list(skipped),
        "created_at": batch.created_at,
    }
