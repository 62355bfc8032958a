"""County staff's bank batches: every household above a threshold paid from one file for the
county's bank, each line then confirmed with the bank's voucher or marked failed."""

from flask import Response, request
from flask.views import MethodView

from api.auth import current_user, protected
from api.blueprint import Blueprint
from api.ledger_presenters import present_batch, present_payout
from api.schemas.ledger import (
    BatchFileQuery,
    BatchIn,
    BatchListOut,
    ConfirmLineIn,
    FailLineIn,
    PayoutBatchOut,
    PayoutOut,
)
from api.v1.orders import IDEMPOTENCY_HEADER
from models.enums import Role
from services import payout_batches
from services.error_codes import CommonError, HouseholdError, PayoutError, RequestError
from services.idempotency import Idempotency

blp = Blueprint(
    "admin_payouts", __name__, url_prefix="/api/v1/admin", description="管理：银行代发批次"
)


@blp.route("/payout-batches")
class PayoutBatches(MethodView):
    @protected(blp, Role.COUNTY_STAFF, Role.PLATFORM_ADMIN)
    @blp.arguments(BatchIn)
    @blp.response(201, PayoutBatchOut)
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    @blp.errors(
        CommonError.FORBIDDEN,
        HouseholdError.ADMIN_READ_ONLY,
        RequestError.IDEMPOTENCY_KEY_REQUIRED,
        RequestError.IDEMPOTENCY_KEY_INVALID,
        RequestError.IDEMPOTENCY_KEY_REUSED,
    )
    def post(self, data):
        """Run a bank batch for a county: a line for every household whose available balance
        is at least the threshold (and has a bank account on file; the rest are listed as
        skipped), plus the bank payouts households asked for."""
        key = Idempotency.of(request.headers.get("Idempotency-Key"), "payout_batch", data)
        run = payout_batches.create_batch(current_user(), request=key, **data)
        return present_batch(run.batch, payout_batches.lines_of(run.batch), run.skipped)

    @protected(blp, Role.COUNTY_STAFF, Role.PLATFORM_ADMIN)
    @blp.response(200, BatchListOut)
    def get(self):
        """The latest batches of the staff member's counties."""
        found = payout_batches.list_batches(current_user())
        lines = payout_batches.lines_by_batch(found)
        return {"items": [present_batch(b, lines[b.id]) for b in found], "next_cursor": None}


@blp.route("/payout-batches/<int:batch_id>")
@protected(blp, Role.COUNTY_STAFF, Role.PLATFORM_ADMIN)
@blp.response(200, PayoutBatchOut)
@blp.errors(CommonError.NOT_FOUND)
def get_batch(batch_id):
    """One batch and its lines (account numbers masked)."""
    batch = payout_batches.get_batch(current_user(), batch_id)
    return present_batch(batch, payout_batches.lines_of(batch))


@blp.route("/payout-batches/<int:batch_id>/file")
@protected(blp, Role.COUNTY_STAFF, Role.PLATFORM_ADMIN)
@blp.arguments(BatchFileQuery, location="query")
@blp.response(
    200,
    description="the lines to pay: 序号, 户名, 账号 (in full), 开户行, 金额（元）, 用途, 单号",
    content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
)
@blp.errors(CommonError.NOT_FOUND, CommonError.FORBIDDEN, HouseholdError.ADMIN_READ_ONLY)
def batch_file(query, batch_id):
    """The file for the county's bank, XLSX or CSV (UTF-8 with BOM). The download is audited:
    it is the one place account numbers appear in full."""
    batch, rows = payout_batches.file_rows(current_user(), batch_id)
    if query["format"] == "csv":
        body, mimetype = payout_batches.csv_bytes(rows), "text/csv; charset=utf-8"
    else:
        body = payout_batches.xlsx_bytes(rows)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    name = f"payout-batch-{batch.id}.{query['format']}"
    return Response(
        body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


_LINE_ERRORS = (
    CommonError.NOT_FOUND,
    CommonError.FORBIDDEN,
    CommonError.INVALID_STATE,
    HouseholdError.ADMIN_READ_ONLY,
    PayoutError.UNKNOWN_LINE,
)


@blp.route("/payout-batches/<int:batch_id>/lines/<int:line_id>/confirm", methods=["POST"])
@protected(blp, Role.COUNTY_STAFF, Role.PLATFORM_ADMIN)
@blp.arguments(ConfirmLineIn)
@blp.response(200, PayoutOut)
@blp.errors(*_LINE_ERRORS)
def confirm_line(data, batch_id, line_id):
    """The bank paid this line: settled with its voucher number (the same again answers the
    same)."""
    line = payout_batches.confirm_line(current_user(), batch_id, line_id, **data)
    return present_payout(line)


@blp.route("/payout-batches/<int:batch_id>/lines/<int:line_id>/fail", methods=["POST"])
@protected(blp, Role.COUNTY_STAFF, Role.PLATFORM_ADMIN)
@blp.arguments(FailLineIn)
@blp.response(200, PayoutOut)
@blp.errors(*_LINE_ERRORS)
def fail_line(data, batch_id, line_id):
    """The bank could not pay this line: its money goes back to the household's available."""
    return present_payout(payout_batches.fail_line(current_user(), batch_id, line_id, **data))
