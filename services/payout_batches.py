"""Bank payouts (惠农一卡通): households' bank accounts, recorded by county staff, and the
batches staff run: every household of the county above a threshold, and the bank payouts
households asked for, as the lines of one file for the county's bank. Staff then confirm each
line with the bank's voucher number, or mark it failed (its money goes back to available)."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from models import Household, LedgerAccount, Payout, PayoutBatch, User, db
from models.base import utcnow
from models.enums import AccountKind, PayoutChannel, PayoutState, SellerKind
from services import access, audit, idempotency, ledger, payouts, pii
from services.error_codes import CommonError, HouseholdError, PayoutError
from services.errors import DomainError
from services.idempotency import Idempotency

_ACCOUNT_NUMBER = re.compile(r"\d{12,30}")


# --- bank accounts -------------------------------------------------------------------------


def mask_account(number: str) -> str:
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def set_bank_account(
    actor: User, household_id: int, *, bank_name: str, account_name: str, account_number: str
) -> Household:
    """County staff record where a household's bank payouts go (a payout destination is never
    changed by the household's own account or a helper: it is checked on paper first)."""
    household = payouts.household_finances(actor, household_id)
    if not access.is_staff_of(actor, household.county_code):
        raise CommonError.FORBIDDEN()
    number = re.sub(r"[\s-]", "", account_number)
    if not _ACCOUNT_NUMBER.fullmatch(number):
        raise PayoutError.INVALID_BANK_ACCOUNT(errors={"account_number": ["须为12至30位数字"]})
    household.bank_name = bank_name.strip()
    household.bank_account_name = account_name.strip()
    household.bank_account_cipher = pii.encrypt(number)
    household.bank_account_masked = mask_account(number)
    audit.record(
        actor,
        "household.bank_account",
        "household",
        household.id,
        bank_name=household.bank_name,
        account=household.bank_account_masked,
    )
    db.session.commit()
    return household


# --- batches -------------------------------------------------------------------------------


def _county_staff(actor: User, county_code: str) -> None:
    if access.is_staff_of(actor, county_code):
        return
    if access.is_platform_admin(actor):
        raise HouseholdError.ADMIN_READ_ONLY()
    raise CommonError.FORBIDDEN()


def get_batch(actor: User, batch_id: int) -> PayoutBatch:
    batch = db.session.get(PayoutBatch, batch_id)
    if batch is None or not (
        access.is_staff_of(actor, batch.county_code) or access.is_platform_admin(actor)
    ):
        raise CommonError.NOT_FOUND()
    return batch


def lines_of(batch: PayoutBatch) -> list[Payout]:
    return lines_by_batch([batch])[batch.id]


def lines_by_batch(batches: list[PayoutBatch]) -> dict[int, list[Payout]]:
    """Each batch's lines, read once for a page of batches."""
    found: dict[int, list[Payout]] = {b.id: [] for b in batches}
    if found:
        for line in db.session.scalars(
            select(Payout).where(Payout.batch_id.in_(found)).order_by(Payout.id)
        ):
            found[line.batch_id].append(line)  # type: ignore[index]
    return found


def list_batches(actor: User, *, limit: int = 50) -> list[PayoutBatch]:
    query = select(PayoutBatch)
    if not access.is_platform_admin(actor):
        query = query.where(PayoutBatch.county_code.in_(actor.staff_county_codes))
    return list(db.session.scalars(query.order_by(PayoutBatch.id.desc()).limit(limit)))


@dataclass(frozen=True)
class Skipped:
    household_id: int
    available_fen: int
    reason: str  # no_bank_account | balance_changed


@dataclass(frozen=True)
class BatchRun:
    batch: PayoutBatch
    created: bool
    skipped: list[Skipped]


def create_batch(
    actor: User,
    *,
    county_code: str,
    threshold_fen: int | None = None,
    purpose: str = "农产品销售货款",
    request: Idempotency | None,
) -> BatchRun:
    """One bank batch for the county. Each line takes its household's money in a commit of
    its own: a payout the household asked for at the same moment makes that line skipped,
    never the balance negative, and the lines made so far stand."""
    _county_staff(actor, county_code)
    if request is not None:
        earlier = idempotency.find(actor, request)
        if earlier is not None:
            batch = db.session.get(PayoutBatch, earlier)
            assert batch is not None
            if batch.built_at is not None:
                return BatchRun(batch, created=False, skipped=[])
            # The first request broke half-way: this one makes the lines still missing.
            return BatchRun(batch, created=False, skipped=_build(actor, batch))
    threshold = threshold_fen or current_app.config["PAYOUT_BATCH_THRESHOLD_FEN"]
    batch = PayoutBatch(
        county_code=county_code,
        threshold_fen=threshold,
        purpose=purpose,
        created_by_id=actor.id if actor else None,
    )
    db.session.add(batch)
    db.session.flush()
    if request is not None:
        idempotency.remember(actor.id, request, batch.id)
    audit.record(actor, "payout_batch.create", "payout_batch", batch.id, county=county_code)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        assert request is not None
        return create_batch(
            actor,
            county_code=county_code,
            threshold_fen=threshold_fen,
            purpose=purpose,
            request=request,
        )
    return BatchRun(batch, created=True, skipped=_build(actor, batch))


def _build(actor: User, batch: PayoutBatch) -> list[Skipped]:
    """The batch's lines, each in a commit of its own; safe to run again on the same batch
    (a household gets one line)."""
    # The bank payouts households asked for, waiting for a batch.
    db.session.execute(
        update(Payout)
        .where(
            Payout.county_code == batch.county_code,
            Payout.channel == PayoutChannel.BANK,
            Payout.batch_id.is_(None),
            Payout.state == PayoutState.REQUESTED,
        )
        .values(batch_id=batch.id)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    skipped = [_add_line(actor, batch, h, available) for h, available in _due(batch)]
    batch.built_at = utcnow()
    db.session.commit()
    return [s for s in skipped if s is not None]


def _due(batch: PayoutBatch) -> list[tuple[Household, int]]:
    rows = db.session.execute(
        select(Household, LedgerAccount.balance_fen)
        .join(
            LedgerAccount,
            (LedgerAccount.seller_kind == SellerKind.HOUSEHOLD)
            & (LedgerAccount.seller_id == Household.id),
        )
        .where(
            Household.county_code == batch.county_code,
            LedgerAccount.kind == AccountKind.PAYABLE,
            LedgerAccount.balance_fen >= batch.threshold_fen,
            # One line per household: those whose own request joined the batch keep theirs.
            Household.id.not_in(
                select(Payout.seller_id).where(
                    Payout.batch_id == batch.id, Payout.seller_kind == SellerKind.HOUSEHOLD
                )
            ),
        )
        .order_by(Household.id)
    ).all()
    return [(household, int(available or 0)) for household, available in rows]


def _add_line(actor: User, batch: PayoutBatch, household: Household, available: int):
    if not household.bank_account_cipher:
        return Skipped(household.id, available, "no_bank_account")
    seller = ledger.household(household.id)
    now_available = payouts.lock_available(seller)
    if now_available < batch.threshold_fen:
        db.session.rollback()
        return Skipped(household.id, now_available, "balance_changed")
    try:
        payouts.take(
            actor,
            household,
            channel=PayoutChannel.BANK,
            requested=now_available,
            amount=now_available,
            batch_id=batch.id,
        )
        db.session.commit()
    except (DomainError, IntegrityError):
        db.session.rollback()
        return Skipped(household.id, now_available, "balance_changed")
    return None


def line_of(actor: User, batch_id: int, line_id: int) -> Payout:
    batch = get_batch(actor, batch_id)
    _county_staff(actor, batch.county_code)
    payout = db.session.get(Payout, line_id)
    if payout is None or payout.batch_id != batch.id:
        raise PayoutError.UNKNOWN_LINE()
    return payout


def confirm_line(actor: User, batch_id: int, line_id: int, *, voucher_no: str) -> Payout:
    """The bank paid the line: its voucher number settles it (again with the same voucher
    answers the same; another one is refused)."""
    payout = line_of(actor, batch_id, line_id)
    if payout.state == PayoutState.SUCCESS and payout.voucher_no == voucher_no:
        return payout
    if not payouts.finish(payout, PayoutState.SUCCESS, voucher_no=voucher_no, actor=actor):
        raise CommonError.INVALID_STATE(errors={"state": [payout.state.value]})
    return payout


def fail_line(actor: User, batch_id: int, line_id: int, *, reason: str) -> Payout:
    """The bank could not pay the line (closed account, wrong name): the money goes back."""
    payout = line_of(actor, batch_id, line_id)
    if payout.state == PayoutState.FAILED:
        return payout
    if not payouts.finish(payout, PayoutState.FAILED, reason=reason, actor=actor):
        raise CommonError.INVALID_STATE(errors={"state": [payout.state.value]})
    return payout


# --- the file for the bank -----------------------------------------------------------------

COLUMNS = ("序号", "户名", "账号", "开户行", "金额（元）", "用途", "付款单号")


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def file_rows(actor: User, batch_id: int) -> tuple[PayoutBatch, list[tuple]]:
    """The lines still to pay, with full account numbers (only in the file; the download is
    audited)."""
    batch = get_batch(actor, batch_id)
    _county_staff(actor, batch.county_code)
    lines = [p for p in lines_of(batch) if p.state == PayoutState.REQUESTED]
    rows = [
        (
            index,
            p.bank_account_name or "",
            pii.decrypt(p.bank_account_cipher) if p.bank_account_cipher else "",
            p.bank_name or "",
            yuan(p.amount_fen),
            batch.purpose,
            p.out_bill_no,
        )
        for index, p in enumerate(lines, start=1)
    ]
    audit.record(actor, "payout_batch.download", "payout_batch", batch.id, lines=len(rows))
    db.session.commit()
    return batch, rows


def csv_bytes(rows: list[tuple]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode()  # the BOM makes Excel read UTF-8


def xlsx_bytes(rows: list[tuple]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "代发明细"
    sheet.append(COLUMNS)
    for row in rows:
        sheet.append(list(row))
    for cell in sheet["C"][1:] + sheet["E"][1:]:
        cell.number_format = "@"  # text: account numbers and amounts exactly as written
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
