"""Payouts: a household's available money sent to it.

A payout takes its money first (payable → in flight, in the same commit as the payout row,
under a lock on the seller's payable account, so concurrent requests never take more than is
available), then asks the channel. WeChat 商家转账 is called after that commit: a lost answer
leaves the payout ``unclear`` with its bill number, which is never changed; ``flask payouts
poll`` asks WeChat about it first, and sends the same number again only when WeChat has no such
bill. A final answer settles the payout once (in flight → paid out) or gives the money back
(in flight → payable), whichever way it arrives (the answer, a notification, a query).
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from models import Household, LedgerAccount, PaymentAnomaly, Payout, User, db
from models.base import utcnow
from models.enums import ConsentPurpose, PayoutChannel, PayoutState, SellerKind
from services import access, audit, idempotency, ledger, lifecycle, lifecycles
from services.error_codes import CommonError, PaymentError, PayoutError
from services.idempotency import Idempotency
from services.wechat_gateway import wechat_pay_client
from wechat import errors as wx
from wechat.pay_transfers import USER_NAME_REQUIRED_FROM_FEN

log = logging.getLogger(__name__)

FINAL = lifecycles.PAYOUT.final
OPEN = tuple(s for s in PayoutState if s not in FINAL)
# The lifecycle's action that leads to each state.
_ACTION = {
    PayoutState.REQUESTED: "processing",
    PayoutState.WAIT_USER_CONFIRM: "await_confirmation",
    PayoutState.UNCLEAR: "unclear",
    PayoutState.SUCCESS: "succeed",
    PayoutState.FAILED: "fail",
    PayoutState.CANCELLED: "cancel",
}
# WeChat takes no transfer under ¥0.10.
WECHAT_MIN_FEN = 10
_BEIJING = timezone(timedelta(hours=8))
# WeChat's states, as ours.
PROVIDER_STATES = {
    "SUCCESS": PayoutState.SUCCESS,
    "FAIL": PayoutState.FAILED,
    "CANCELLED": PayoutState.CANCELLED,
    "WAIT_USER_CONFIRM": PayoutState.WAIT_USER_CONFIRM,
}


def out_bill_no(payout_id: int) -> str:
    return f"NJP{payout_id:012d}"


# --- who may see and who may ask -------------------------------------------------------------


def finances_visible(actor: User, household: Household) -> bool:
    """Members, helpers the household allowed to see its money, staff of its county."""
    return (
        access.is_member(actor, household)
        or access.has_consent(actor, household, ConsentPurpose.VIEW_FINANCES)
        or access.is_staff_of(actor, household.county_code)
    )


def household_finances(actor: User, household_id: int) -> Household:
    household = db.session.get(Household, household_id)
    if household is None or not finances_visible(actor, household):
        raise CommonError.NOT_FOUND()
    return household


def get_payout(actor: User, payout_id: int) -> Payout:
    payout = db.session.get(Payout, payout_id)
    # Only households' payouts are shown here (an organisation's, once they sell, are not
    # a household's with the same id).
    household = (
        db.session.get(Household, payout.seller_id)
        if payout and payout.seller_kind == SellerKind.HOUSEHOLD
        else None
    )
    if payout is None or household is None or not finances_visible(actor, household):
        raise CommonError.NOT_FOUND()
    return payout


def list_payouts(actor: User, household_id: int, *, limit: int = 50) -> list[Payout]:
    household = household_finances(actor, household_id)
    seller = ledger.household(household.id)
    return list(
        db.session.scalars(
            select(Payout)
            .where(Payout.seller_kind == seller.kind, Payout.seller_id == seller.id)
            .order_by(Payout.id.desc())
            .limit(limit)
        )
    )


# --- asking for one --------------------------------------------------------------------------


@dataclass(frozen=True)
class Requested:
    payout: Payout
    created: bool  # False: an earlier request with the same key made it


def request_payout(
    actor: User,
    household_id: int,
    *,
    amount_fen: int,
    channel: PayoutChannel,
    request: Idempotency,
) -> Requested:
    household = household_finances(actor, household_id)
    member = access.is_member(actor, household)
    if not (member or access.has_consent(actor, household, ConsentPurpose.VIEW_FINANCES)):
        raise CommonError.FORBIDDEN()  # staff see the money, the household moves it
    earlier = _made_by(actor, request)
    if earlier is not None:
        return Requested(earlier, created=False)
    if channel == PayoutChannel.WECHAT_TRANSFER:
        _check_wechat(actor, amount_fen, member=member)
    elif not household.bank_account_cipher:
        raise PayoutError.BANK_ACCOUNT_MISSING()
    available = lock_available(ledger.household(household.id))
    # Asked again under the lock: a twin sent with the same key at the same moment may have
    # committed while this one waited, and its payout is this request's answer.
    earlier = _made_by(actor, request)
    if earlier is not None:
        db.session.rollback()
        return Requested(earlier, created=False)
    if channel == PayoutChannel.WECHAT_TRANSFER:
        payout = _take_for_wechat(actor, household, amount_fen, available)
    else:
        payout = _take_for_bank(actor, household, amount_fen, available)
    idempotency.remember(actor.id, request, payout.id)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        earlier = _made_by(actor, request)
        if earlier is not None:  # a concurrent twin with the same key
            return Requested(earlier, created=False)
        raise PayoutError.BANK_PAYOUT_PENDING() from None
    if channel == PayoutChannel.WECHAT_TRANSFER:
        send_transfer(payout)
    return Requested(payout, created=True)


def _made_by(actor: User, request: Idempotency) -> Payout | None:
    earlier = idempotency.find(actor, request)
    return db.session.get(Payout, earlier) if earlier is not None else None


def _check_wechat(actor: User, amount_fen: int, *, member: bool) -> None:
    if not member:
        raise PayoutError.NEEDS_MEMBER()  # the money goes to the WeChat of who asks
    if not current_app.config["WECHATPAY_ENABLED"]:
        raise PayoutError.CHANNEL_UNAVAILABLE(errors={"channel": ["wechat_transfer"]})
    if not actor.openid:
        raise PaymentError.WECHAT_IDENTITY_REQUIRED()
    if amount_fen < WECHAT_MIN_FEN:
        raise PayoutError.AMOUNT_TOO_SMALL(errors={"amount_fen": [f"至少 {WECHAT_MIN_FEN} 分"]})


def _take_for_wechat(actor: User, household: Household, amount_fen: int, available: int):
    """Under the household's lock."""
    assert actor.openid is not None
    if amount_fen > available:
        db.session.rollback()
        raise PayoutError.INSUFFICIENT_BALANCE(errors={"available_fen": [str(available)]})
    # The per-user daily cap: today's bill carries what is left of it; the rest stays.
    left = current_app.config["PAYOUT_DAILY_CAP_FEN"] - paid_today(actor.openid)
    if left < WECHAT_MIN_FEN:
        db.session.rollback()
        raise PayoutError.DAILY_CAP_REACHED()
    return take(
        actor,
        household,
        channel=PayoutChannel.WECHAT_TRANSFER,
        requested=amount_fen,
        amount=min(amount_fen, left),
        openid=actor.openid,
    )


def _take_for_bank(actor: User, household: Household, amount_fen: int, available: int):
    """Under the household's lock."""
    seller = ledger.household(household.id)
    waiting = db.session.scalar(
        select(Payout.id).where(
            Payout.seller_kind == seller.kind,
            Payout.seller_id == seller.id,
            Payout.channel == PayoutChannel.BANK,
            Payout.batch_id.is_(None),
            Payout.state == PayoutState.REQUESTED,
        )
    )
    if waiting is not None:
        db.session.rollback()
        raise PayoutError.BANK_PAYOUT_PENDING(errors={"payout_id": [str(waiting)]})
    if amount_fen > available:
        db.session.rollback()
        raise PayoutError.INSUFFICIENT_BALANCE(errors={"available_fen": [str(available)]})
    return take(
        actor,
        household,
        channel=PayoutChannel.BANK,
        requested=amount_fen,
        amount=amount_fen,
    )


def lock_available(seller: ledger.Seller) -> int:
    """Hold the seller's payable account until the commit (PostgreSQL: its row; SQLite: the
    write lock) and read what is available: concurrent requests are answered one after
    another, each seeing what the one before took."""
    account_id = ledger.account_id(ledger.payable(seller))
    db.session.execute(
        update(LedgerAccount)
        .where(LedgerAccount.id == account_id)
        .values(balance_fen=LedgerAccount.balance_fen)
        .execution_options(synchronize_session=False)
    )
    return (
        db.session.scalar(select(LedgerAccount.balance_fen).where(LedgerAccount.id == account_id))
        or 0
    )


def paid_today(openid: str) -> int:
    """What WeChat transfers gave this user today (Beijing time), or are giving."""
    start = datetime.now(_BEIJING).replace(hour=0, minute=0, second=0, microsecond=0)
    return (
        db.session.scalar(
            select(func.coalesce(func.sum(Payout.amount_fen), 0)).where(
                Payout.channel == PayoutChannel.WECHAT_TRANSFER,
                Payout.openid == openid,
                Payout.created_at >= start,
                Payout.state.not_in([PayoutState.FAILED, PayoutState.CANCELLED]),
            )
        )
        or 0
    )


def take(
    actor: User | None,
    household: Household,
    *,
    channel: PayoutChannel,
    requested: int,
    amount: int,
    openid: str | None = None,
    batch_id: int | None = None,
) -> Payout:
    """The payout row and its money moved to in-flight, in the caller's transaction."""
    seller = ledger.household(household.id)
    payout = Payout(
        seller_kind=seller.kind,
        seller_id=seller.id,
        county_code=household.county_code,
        channel=channel,
        state=PayoutState.REQUESTED,
        requested_fen=requested,
        amount_fen=amount,
        out_bill_no=f"tmp{secrets.token_hex(8)}",
        requested_by_id=actor.id if actor else None,
        openid=openid,
        batch_id=batch_id,
    )
    if channel == PayoutChannel.BANK:
        payout.bank_name = household.bank_name
        payout.bank_account_name = household.bank_account_name
        payout.bank_account_cipher = household.bank_account_cipher
        payout.bank_account_masked = household.bank_account_masked
    db.session.add(payout)
    try:
        db.session.flush()
    except IntegrityError:
        # The household's bank payout waiting for a batch, made by a request at this moment.
        db.session.rollback()
        raise PayoutError.BANK_PAYOUT_PENDING() from None
    payout.out_bill_no = out_bill_no(payout.id)
    try:
        ledger.payout_sent(payout)
    except ledger.Overdrawn:
        db.session.rollback()
        raise PayoutError.INSUFFICIENT_BALANCE() from None
    audit.record(
        actor,
        "payout.request",
        "household",
        household.id,
        payout_id=payout.id,
        channel=channel.value,
        amount_fen=amount,
        requested_fen=requested,
    )
    return payout


# --- WeChat 商家转账 ---------------------------------------------------------------------------


def _notify_url() -> str:
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return f"{base}/api/v1/payments/wechat/transfer-notify"


def send_transfer(payout: Payout) -> None:
    """Ask WeChat for the bill (again, with the same number, after an unclear answer)."""
    cfg = current_app.config
    household = db.session.get(Household, payout.seller_id)
    assert household is not None and payout.openid is not None
    # The payee's real name is checked by WeChat from ¥2,000: the household head's.
    name = household.head_name if payout.amount_fen >= USER_NAME_REQUIRED_FROM_FEN else None
    try:
        bill = wechat_pay_client().create_transfer_bill(
            out_bill_no=payout.out_bill_no,
            openid=payout.openid,
            amount_fen=payout.amount_fen,
            remark=cfg["WECHATPAY_TRANSFER_REMARK"],
            notify_url=_notify_url(),
            scene_id=cfg["WECHATPAY_TRANSFER_SCENE_ID"],
            report_infos=json.loads(cfg["WECHATPAY_TRANSFER_REPORT_INFOS"]),
            user_name=name,
            user_recv_perception=cfg["WECHATPAY_TRANSFER_PERCEPTION"] or None,
        )
    except wx.PayNotEnough as exc:
        # The merchant's balance is short: WeChat made no bill; the same number is sent again
        # once it is topped up (``flask payouts poll``). The farmer's money stays set aside.
        _unclear(payout, exc)
        return
    except wx.PayRequestInvalid as exc:
        # WeChat refused it for good (no such user, the merchant's balance ...): nothing was
        # made there, and the money goes back to available.
        finish(payout, PayoutState.FAILED, reason=_describe(exc))
        return
    except wx.PayError as exc:
        _unclear(payout, exc)
        return
    apply_bill(payout, bill)


def _describe(exc: wx.PayError) -> str:
    return (f"{exc.code or ''} {exc}").strip()[:200]


def _move(payout: Payout, target: PayoutState, **values) -> bool:
    """Move the payout to ``target`` along the lifecycle table, if it is still where it was
    read (one conditional UPDATE: a notification and a poll racing, one moves it). False,
    having written nothing, when the table has no such move from there (it had ended)."""
    row = lifecycles.PAYOUT.find(payout.state, _ACTION[target])
    if row is None:
        return False
    if not lifecycle.move_if_unchanged(payout, row, column="state", **values):
        db.session.rollback()
        db.session.refresh(payout)
        return _move(payout, target, **values)  # it moved meanwhile: look again
    return True


def _unclear(payout: Payout, exc: wx.PayError) -> None:
    log.warning("transfer %s unclear: %s", payout.out_bill_no, exc)
    _move(
        payout,
        PayoutState.UNCLEAR,
        attempts=Payout.attempts + 1,
        last_error=_describe(exc),
    )
    db.session.commit()


def apply_bill(payout: Payout, bill) -> None:
    """What WeChat says of the bill (an answer, a query, a notification), applied once."""
    target = PROVIDER_STATES.get(bill.state, PayoutState.REQUESTED)
    if target in FINAL:
        finish(
            payout,
            target,
            reason=bill.fail_reason or "",
            provider_state=bill.state,
            transfer_bill_no=bill.transfer_bill_no,
        )
        return
    values: dict = {
        "provider_state": bill.state,
        "attempts": Payout.attempts + 1,
        "last_error": "",
    }
    if bill.transfer_bill_no:
        values["transfer_bill_no"] = bill.transfer_bill_no
    if bill.package_info:
        values["package_info"] = bill.package_info
    _move(payout, target, **values)
    db.session.commit()


def finish(
    payout: Payout,
    state: PayoutState,
    *,
    reason: str = "",
    provider_state: str | None = None,
    transfer_bill_no: str | None = None,
    voucher_no: str | None = None,
    actor: User | None = None,
) -> bool:
    """Move an open payout to its end, with its money, once; commits. False when it had
    ended already (a duplicate notification, a query after the notification)."""
    values: dict = {"fail_reason": reason[:200]}
    if state == PayoutState.SUCCESS:
        values["settled_at"] = utcnow()
    if provider_state:
        values["provider_state"] = provider_state
    if transfer_bill_no:
        values["transfer_bill_no"] = transfer_bill_no
    if voucher_no:
        values["voucher_no"] = voucher_no
    if actor is not None:
        values["settled_by_id"] = actor.id
    if not _move(payout, state, **values):
        db.session.rollback()
        if payout.state != state and actor is None:
            # WeChat and we disagree about how it ended: staff must look.
            _conflict(payout, state)
        return False
    if state == PayoutState.SUCCESS:
        ledger.payout_settled(payout)
    else:
        ledger.payout_reversed(payout)
    audit.record(actor, f"payout.{state.value}", "household", payout.seller_id, payout_id=payout.id)
    db.session.commit()
    return True


def _conflict(payout: Payout, told: PayoutState) -> None:
    log.error("payout %s is %s but was told %s", payout.id, payout.state, told)
    db.session.add(
        PaymentAnomaly(
            kind="payout_state_conflict",
            out_trade_no=payout.out_bill_no,
            detail={"recorded": payout.state.value, "told": told.value},
        )
    )
    db.session.commit()


def check_transfer(payout: Payout) -> None:
    """Ask WeChat where an open bill stands; send it again (same number) when WeChat never
    got it, or when it waits for the farmer and its package was lost with an answer."""
    client = wechat_pay_client()
    try:
        bill = client.query_transfer_bill(payout.out_bill_no)
    except wx.PayNotFound:
        send_transfer(payout)
        return
    except wx.PayError as exc:
        log.warning("query of transfer %s failed: %s", payout.out_bill_no, exc)
        return
    if bill.state == "WAIT_USER_CONFIRM" and not (bill.package_info or payout.package_info):
        send_transfer(payout)  # the same bill, answered again with its package
        return
    apply_bill(payout, bill)


@dataclass(frozen=True)
class PollRun:
    checked: int
    open: int  # still not final after the run


def poll(*, older_than: timedelta = timedelta(0), limit: int = 500) -> PollRun:
    """``flask payouts poll``: every WeChat bill not yet final, asked about. One being sent at
    this moment is safe to ask about too: sent again, the same number gives the same bill."""
    cutoff = utcnow() - older_than
    ids = db.session.scalars(
        select(Payout.id)
        .where(
            Payout.channel == PayoutChannel.WECHAT_TRANSFER,
            Payout.state.in_(OPEN),
            Payout.updated_at <= cutoff,
        )
        .order_by(Payout.id)
        .limit(limit)
    ).all()
    still = 0
    for payout_id in ids:
        payout = db.session.get(Payout, payout_id)
        if payout is None:
            continue
        check_transfer(payout)
        still += payout.state not in FINAL
    return PollRun(checked=len(ids), open=still)


def handle_transfer_notification(headers: dict, body: bytes) -> bool:
    """A verified MCHTRANSFER.BILL.FINISHED notification, applied once (the client raises
    ``NotificationRejected`` for anything it cannot verify)."""
    if not current_app.config["WECHATPAY_ENABLED"]:
        raise wx.NotificationRejected("bad_signature", "WeChat Pay is not enabled here")
    notification = wechat_pay_client().verify_notification(headers, body)
    bill = notification.transfer_bill
    if bill is None:
        log.info("transfer notification %s ignored", notification.event_type)
        return False
    payout = db.session.scalar(select(Payout).where(Payout.out_bill_no == bill.out_bill_no))
    mch_id = notification.resource.get("mch_id")
    problem = None
    if payout is None:
        problem = "unknown_payout"
    elif mch_id not in (None, current_app.config["WECHATPAY_MCHID"]):
        problem = "wrong_merchant"
    elif bill.amount_fen is not None and bill.amount_fen != payout.amount_fen:
        problem = "payout_amount_mismatch"
    if problem is not None:
        db.session.add(
            PaymentAnomaly(
                kind=problem,
                out_trade_no=bill.out_bill_no,
                detail={"state": bill.state, "amount_fen": str(bill.amount_fen)},
            )
        )
        db.session.commit()
        return False
    assert payout is not None
    apply_bill(payout, bill)
    return True
