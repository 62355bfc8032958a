"""Bank payouts (惠农一卡通): accounts recorded by county staff, payouts households ask for,
the county's batches (the API and ``flask payouts batch``), the file for the bank (CSV and
XLSX), and each line confirmed with the bank's voucher or marked failed."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from models import Household, Payout, User, db
from models.enums import ConsentPurpose
from tests.factories import GUZHEN, SANGZHI, SANGZHI_VILLAGE, assert_error, audit_rows
from tests.money import Money
from tests.shopping import API

ACCOUNT = "6228480012345678901"
MASKED = "6228***********8901"
COLUMNS = ["序号", "户名", "账号", "开户行", "金额（元）", "用途", "付款单号"]
BATCHES = f"{API}/admin/payout-batches"


@pytest.fixture
def money(chain, network):
    return Money(chain, network)


def put_account(client, staff, household: int, number: str = ACCOUNT, **extra):
    body = {"bank_name": "固镇县农商银行", "account_name": "李桂兰", "account_number": number}
    return client.put(
        f"{API}/households/{household}/bank-account", json=body | extra, headers=staff.headers
    )


def with_account(client, staff, household: int, number: str = ACCOUNT) -> None:
    answer = put_account(client, staff, household, number)
    assert answer.status_code == 200, answer.json


def sold_in_sangzhi(chain, money, *, price_fen=4500, quantity=2):
    """A completed sale of a household of 桑植县 (no station there: shipped directly)."""
    part = chain.paid(
        chain.shopping.offer(village=SANGZHI_VILLAGE, price_fen=price_fen), quantity=quantity
    )
    shipped = chain.ship_directly(part)
    assert shipped.status_code == 200, shipped.json
    confirmed = chain.post(f"/shop-orders/{part.shop_order_id}/confirm-receipt", part.buyer)
    assert confirmed.status_code == 200, confirmed.json
    money.complete_due()
    return part, money.household_of(part)


def run_batch(client, staff, *, key="batch-1", county=GUZHEN, threshold=5000, **extra):
    body = {"county_code": county, "threshold_fen": threshold} | extra
    return client.post(BATCHES, json=body, headers=staff.headers | {"Idempotency-Key": key})


def available(money, person, household) -> tuple[int, int, int]:
    b = money.balance(person, household)
    return b["available_fen"], b["in_flight_fen"], b["paid_out_fen"]


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


# --- bank accounts -------------------------------------------------------------------------


def test_county_staff_record_an_account_answered_masked_and_stored_encrypted(app, client, money):
    part, household = money.sold()
    answer = put_account(client, part.offer.staff, household, "6228 4800-1234 5678 901")
    assert answer.status_code == 200, answer.json
    assert answer.json == {
        "household_id": household,
        "bank_name": "固镇县农商银行",
        "account_name": "李桂兰",
        "account_masked": MASKED,
    }
    assert ACCOUNT not in answer.get_data(as_text=True)
    with app.app_context():
        row = db.session.get(Household, household)
        assert row.bank_account_masked == MASKED
        assert row.bank_account_cipher and ACCOUNT not in row.bank_account_cipher
        assert "12345678" not in row.bank_account_cipher


def test_only_county_staff_record_an_account(app, client, world, money):
    part, household = money.sold()
    helper = world.helper()
    world.consent(household, helper, ConsentPurpose.VIEW_FINANCES)
    for person in (part.offer.farmer, helper):
        assert_error(put_account(client, person, household), 403, "forbidden")
    for person in (
        world.helper(),
        world.farmer(world.household()),
        world.staff(SANGZHI),
        world.admin(),
        world.user(),
    ):
        assert_error(put_account(client, person, household), 404, "not_found")
    with app.app_context():
        assert db.session.get(Household, household).bank_account_cipher is None


@pytest.mark.parametrize(
    "number", ["1234-5678-901", "1234567890123456789012345678901", "------------"]
)
def test_a_number_that_is_not_12_to_30_digits_is_refused(app, client, money, number):
    part, household = money.sold()
    answer = put_account(client, part.offer.staff, household, number)
    assert_error(answer, 422, "invalid_bank_account")
    with app.app_context():
        assert db.session.get(Household, household).bank_account_cipher is None


# --- a household asks ------------------------------------------------------------------------


def test_a_bank_payout_needs_an_account_on_file(app, money):
    part, household = money.sold()
    answer = money.ask_payout(part.offer.farmer, household, 5000, "bank")
    assert_error(answer, 409, "bank_account_missing")
    assert count(app, Payout) == 0
    assert available(money, part.offer.farmer, household) == (9000, 0, 0)


def test_a_bank_payout_waits_for_the_next_batch(app, client, world, money):
    part, household = money.sold()
    with_account(client, part.offer.staff, household)
    asked = money.ask_payout(part.offer.farmer, household, 5000, "bank")
    assert asked.status_code == 201, asked.json
    body = asked.json
    assert (body["state"], body["channel"], body["amount_fen"]) == ("requested", "bank", 5000)
    assert (body["bank_account_masked"], body["bank_name"]) == (MASKED, "固镇县农商银行")
    assert body["batch_id"] is None
    assert body["package_info"] is None and body["confirm_params"] is None
    assert ACCOUNT not in asked.get_data(as_text=True)
    assert available(money, part.offer.farmer, household) == (4000, 5000, 0)
    assert money.differences() == []


def test_a_helper_with_consent_may_ask_for_a_bank_payout(client, world, money):
    part, household = money.sold()
    with_account(client, part.offer.staff, household)
    helper = world.helper()
    world.consent(household, helper, ConsentPurpose.VIEW_FINANCES)
    asked = money.ask_payout(helper, household, 5000, "bank")
    assert asked.status_code == 201, asked.json
    assert money.differences() == []


def test_a_second_bank_payout_waiting_for_a_batch_takes_nothing(app, client, money):
    part, household = money.sold()
    with_account(client, part.offer.staff, household)
    assert money.ask_payout(part.offer.farmer, household, 3000, "bank").status_code == 201
    second = money.ask_payout(part.offer.farmer, household, 3000, "bank")
    assert second.status_code == 409, second.json
    assert count(app, Payout) == 1
    assert available(money, part.offer.farmer, household) == (6000, 3000, 0)
    assert money.differences() == []


def test_a_second_bank_payout_waiting_for_a_batch_is_bank_payout_pending(app, client, money):
    part, household = money.sold()
    with_account(client, part.offer.staff, household)
    assert money.ask_payout(part.offer.farmer, household, 3000, "bank").status_code == 201
    second = money.ask_payout(part.offer.farmer, household, 3000, "bank")
    assert_error(second, 409, "bank_payout_pending")


def test_a_bank_payout_larger_than_available_is_refused(app, client, money):
    part, household = money.sold()
    with_account(client, part.offer.staff, household)
    assert_error(
        money.ask_payout(part.offer.farmer, household, 9001, "bank"), 409, "insufficient_balance"
    )
    assert count(app, Payout) == 0


# --- batches -------------------------------------------------------------------------------


@pytest.fixture
def county(client, chain, network, money):
    """Households with money: in 固镇县 A (¥123.45, an account), B (¥90, no account),
    C (¥30, an account: under the threshold) and D (¥90, an account, asked for ¥50 by bank);
    in 桑植县 E (¥90, an account, asked for ¥20 by bank)."""
    people = {}
    for name, price, quantity in (("A", 12345, 1), ("B", 4500, 2), ("C", 3000, 1), ("D", 4500, 2)):
        part, household = money.sold(price_fen=price, quantity=quantity)
        people[name] = (part.offer.farmer, household, part.offer.staff)
    part, household = sold_in_sangzhi(chain, money)
    people["E"] = (part.offer.farmer, household, part.offer.staff)
    for name in "ACDE":
        farmer, household, staff = people[name]
        with_account(client, staff, household)
    for name, amount in (("D", 5000), ("E", 2000)):
        farmer, household, _ = people[name]
        assert money.ask_payout(farmer, household, amount, "bank").status_code == 201
    return people


def test_a_batch_pays_every_household_above_the_threshold_with_an_account(
    app, client, network, money, county
):
    answer = run_batch(client, network.staff)
    assert answer.status_code == 201, answer.json
    batch = answer.json
    a, b, c, d, e = (county[n][1] for n in "ABCDE")
    assert (batch["county_code"], batch["threshold_fen"]) == (GUZHEN, 5000)
    assert batch["purpose"] == "农产品销售货款"
    assert [(p["household_id"], p["amount_fen"], p["state"]) for p in batch["lines"]] == [
        (d, 5000, "requested"),  # asked for by the household
        (a, 12345, "requested"),  # above the threshold
    ]
    assert all(p["batch_id"] == batch["id"] for p in batch["lines"])
    assert all(p["bank_account_masked"] == MASKED for p in batch["lines"])
    assert batch["skipped"] == [
        {"household_id": b, "available_fen": 9000, "reason": "no_bank_account"}
    ]
    assert batch["total_fen"] == 17345
    assert ACCOUNT not in answer.get_data(as_text=True)
    farmer = {n: county[n][0] for n in "ABCDE"}
    assert available(money, farmer["A"], a) == (0, 12345, 0)
    assert available(money, farmer["B"], b) == (9000, 0, 0)
    assert available(money, farmer["C"], c) == (3000, 0, 0)
    assert available(money, farmer["D"], d) == (4000, 5000, 0)
    assert available(money, farmer["E"], e) == (7000, 2000, 0)  # another county's
    with app.app_context():
        [e_payout] = db.session.scalars(select(Payout).where(Payout.seller_id == e)).all()
        assert e_payout.batch_id is None
    assert money.differences() == []


def test_a_batch_is_run_once_per_idempotency_key(app, client, network, money, county):
    first = run_batch(client, network.staff, key="run-1")
    again = run_batch(client, network.staff, key="run-1")
    assert again.status_code == 201, again.json
    assert again.json["id"] == first.json["id"]
    assert [p["id"] for p in again.json["lines"]] == [p["id"] for p in first.json["lines"]]
    assert count(app, Payout) == 3  # D's and E's requests, A's line: one run
    missing = client.post(
        BATCHES, json={"county_code": GUZHEN, "threshold_fen": 5000}, headers=network.staff.headers
    )
    assert_error(missing, 428, "idempotency_key_required")
    assert money.differences() == []


def test_the_default_threshold_comes_from_settings(app, client, network, money, county):
    assert app.config["PAYOUT_BATCH_THRESHOLD_FEN"] == 10_000
    answer = client.post(
        BATCHES,
        json={"county_code": GUZHEN},
        headers=network.staff.headers | {"Idempotency-Key": "default"},
    )
    assert answer.status_code == 201, answer.json
    assert answer.json["threshold_fen"] == 10_000
    assert [p["amount_fen"] for p in answer.json["lines"]] == [5000, 12345]
    assert answer.json["skipped"] == []  # B's ¥90 is under ¥100


def _file(client, staff, batch_id: int, fmt: str):
    return client.get(f"{BATCHES}/{batch_id}/file?format={fmt}", headers=staff.headers)


def _csv_rows(answer) -> list[list[str]]:
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.mimetype == "text/csv"
    raw = answer.get_data()
    assert raw.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def _xlsx_rows(answer) -> list[list]:
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.mimetype == ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(answer.get_data()))
    sheet = book.active
    assert sheet.title == "代发明细"
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_the_file_for_the_bank_has_full_numbers_and_yuan(app, client, network, money, county):
    batch = run_batch(client, network.staff).json
    d_line, a_line = batch["lines"]
    csv_rows = _csv_rows(_file(client, network.staff, batch["id"], "csv"))
    assert csv_rows == [
        COLUMNS,
        [
            "1",
            "李桂兰",
            ACCOUNT,
            "固镇县农商银行",
            "50.00",
            "农产品销售货款",
            d_line["out_bill_no"],
        ],
        [
            "2",
            "李桂兰",
            ACCOUNT,
            "固镇县农商银行",
            "123.45",
            "农产品销售货款",
            a_line["out_bill_no"],
        ],
    ]
    xlsx_rows = _xlsx_rows(_file(client, network.staff, batch["id"], "xlsx"))
    assert xlsx_rows[0] == COLUMNS
    assert [[str(v) for v in row] for row in xlsx_rows[1:]] == csv_rows[1:]
    assert xlsx_rows[1][2] == ACCOUNT  # text, not a number Excel would round
    assert xlsx_rows[2][4] == "123.45"
    default = client.get(f"{BATCHES}/{batch['id']}/file", headers=network.staff.headers)
    assert _xlsx_rows(default) == xlsx_rows
    named = default.headers["Content-Disposition"]
    assert named == f'attachment; filename="payout-batch-{batch["id"]}.xlsx"'
    downloads = audit_rows(app, "payout_batch.download")
    assert [(d["actor_id"], str(d["object_id"])) for d in downloads] == [
        (network.staff.id, str(batch["id"]))
    ] * 3


def test_the_file_lists_only_the_lines_still_to_pay(client, network, money, county):
    batch = run_batch(client, network.staff).json
    d_line, a_line = batch["lines"]
    confirmed = client.post(
        f"{BATCHES}/{batch['id']}/lines/{d_line['id']}/confirm",
        json={"voucher_no": "HN2026113000001"},
        headers=network.staff.headers,
    )
    assert confirmed.status_code == 200, confirmed.json
    rows = _csv_rows(_file(client, network.staff, batch["id"], "csv"))
    assert [r[6] for r in rows[1:]] == [a_line["out_bill_no"]]
    assert rows[1][0] == "1"
    failed = client.post(
        f"{BATCHES}/{batch['id']}/lines/{a_line['id']}/fail",
        json={"reason": "账户已销户"},
        headers=network.staff.headers,
    )
    assert failed.status_code == 200, failed.json
    assert _csv_rows(_file(client, network.staff, batch["id"], "csv")) == [COLUMNS]
    assert money.differences() == []


# --- confirming and failing lines ------------------------------------------------------------


def _confirm(client, staff, batch_id, line_id, voucher="HN2026113000001"):
    return client.post(
        f"{BATCHES}/{batch_id}/lines/{line_id}/confirm",
        json={"voucher_no": voucher},
        headers=staff.headers,
    )


def _fail(client, staff, batch_id, line_id, reason="账户已销户"):
    return client.post(
        f"{BATCHES}/{batch_id}/lines/{line_id}/fail", json={"reason": reason}, headers=staff.headers
    )


def test_a_line_confirmed_with_the_banks_voucher_is_paid_out(client, network, money, county):
    batch = run_batch(client, network.staff).json
    d_line, _ = batch["lines"]
    farmer, household, _ = county["D"]
    confirmed = _confirm(client, network.staff, batch["id"], d_line["id"])
    assert confirmed.status_code == 200, confirmed.json
    assert (confirmed.json["state"], confirmed.json["voucher_no"]) == ("success", "HN2026113000001")
    assert confirmed.json["settled_at"] is not None
    assert available(money, farmer, household) == (4000, 0, 5000)
    again = _confirm(client, network.staff, batch["id"], d_line["id"])
    assert again.status_code == 200, again.json
    assert again.json == confirmed.json
    other = _confirm(client, network.staff, batch["id"], d_line["id"], voucher="HN2026113000099")
    assert_error(other, 409, "invalid_state")
    assert_error(_fail(client, network.staff, batch["id"], d_line["id"]), 409, "invalid_state")
    assert available(money, farmer, household) == (4000, 0, 5000)
    assert money.differences() == []


def test_a_failed_line_gives_the_money_back(client, network, money, county):
    batch = run_batch(client, network.staff).json
    _, a_line = batch["lines"]
    farmer, household, _ = county["A"]
    failed = _fail(client, network.staff, batch["id"], a_line["id"])
    assert failed.status_code == 200, failed.json
    assert (failed.json["state"], failed.json["fail_reason"]) == ("failed", "账户已销户")
    assert available(money, farmer, household) == (12345, 0, 0)
    assert _fail(client, network.staff, batch["id"], a_line["id"]).json["state"] == "failed"
    assert_error(_confirm(client, network.staff, batch["id"], a_line["id"]), 409, "invalid_state")
    assert available(money, farmer, household) == (12345, 0, 0)
    seen = client.get(f"{BATCHES}/{batch['id']}", headers=network.staff.headers).json
    assert seen["total_fen"] == 5000  # the failed line is not paid
    assert money.differences() == []
    # The money is available again: the next batch pays it.
    second = run_batch(client, network.staff, key="batch-2").json
    assert [(p["household_id"], p["amount_fen"]) for p in second["lines"]] == [(household, 12345)]
    assert money.differences() == []


def test_a_line_is_acted_on_only_through_its_own_batch(client, network, money, county):
    first = run_batch(client, network.staff).json
    second = run_batch(client, network.staff, key="batch-2").json
    assert second["lines"] == []
    line = first["lines"][0]["id"]
    for act in (_confirm, _fail):
        assert_error(act(client, network.staff, second["id"], line), 404, "unknown_payout_line")
        assert_error(act(client, network.staff, first["id"], 999_999), 404, "unknown_payout_line")
        assert_error(act(client, network.staff, 999_999, line), 404, "not_found")
    seen = client.get(f"{BATCHES}/{first['id']}", headers=network.staff.headers).json
    assert seen["lines"][0]["state"] == "requested"


# --- who may run and read batches ----------------------------------------------------------


def test_a_platform_admin_reads_batches_but_does_not_act(
    app, client, world, network, money, county
):
    batch = run_batch(client, network.staff).json
    admin = world.admin()
    line = batch["lines"][0]["id"]
    assert_error(run_batch(client, admin, key="admin-run"), 403, "admin_read_only")
    assert_error(_confirm(client, admin, batch["id"], line), 403, "admin_read_only")
    assert_error(_fail(client, admin, batch["id"], line), 403, "admin_read_only")
    assert_error(_file(client, admin, batch["id"], "csv"), 403, "admin_read_only")
    seen = client.get(f"{BATCHES}/{batch['id']}", headers=admin.headers)
    assert seen.status_code == 200, seen.json
    assert [p["id"] for p in seen.json["lines"]] == [p["id"] for p in batch["lines"]]
    listed = client.get(BATCHES, headers=admin.headers)
    assert [b["id"] for b in listed.json["items"]] == [batch["id"]]
    assert count(app, Payout, Payout.state != "requested") == 0


def test_another_countys_staff_neither_see_nor_act(client, world, network, money, county):
    batch = run_batch(client, network.staff).json
    line = batch["lines"][0]["id"]
    sangzhi = county["E"][2]
    assert_error(client.get(f"{BATCHES}/{batch['id']}", headers=sangzhi.headers), 404, "not_found")
    assert_error(_file(client, sangzhi, batch["id"], "xlsx"), 404, "not_found")
    assert_error(_confirm(client, sangzhi, batch["id"], line), 404, "not_found")
    assert_error(_fail(client, sangzhi, batch["id"], line), 404, "not_found")
    assert client.get(BATCHES, headers=sangzhi.headers).json["items"] == []
    assert_error(run_batch(client, sangzhi, key="theirs"), 403, "forbidden")


def test_farmers_and_buyers_have_no_batches(client, world, network, money, county):
    batch = run_batch(client, network.staff).json
    for person in (county["A"][0], world.user()):
        assert_error(run_batch(client, person, key="mine"), 403, "forbidden")
        assert_error(client.get(f"{BATCHES}/{batch['id']}", headers=person.headers), 403)


def test_each_county_runs_its_own(client, money, county):
    sangzhi = county["E"][2]
    answer = run_batch(client, sangzhi, county=SANGZHI, key="sangzhi", threshold=8000)
    assert answer.status_code == 201, answer.json
    e = county["E"][1]
    assert [(p["household_id"], p["amount_fen"]) for p in answer.json["lines"]] == [(e, 2000)]
    assert answer.json["skipped"] == []
    assert money.differences() == []


# --- flask payouts batch -------------------------------------------------------------------


def _username(app, person) -> str:
    with app.app_context():
        return db.session.get(User, person.id).username


def test_flask_payouts_batch_runs_one_and_prints_it(app, network, money, county):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "payouts",
            "batch",
            "--county",
            GUZHEN,
            "--threshold-fen",
            "5000",
            "--staff",
            _username(app, network.staff),
        ]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        batch_id = db.session.scalar(select(func.max(Payout.batch_id)))
    assert result.output.splitlines() == [
        f"batch {batch_id}: 2 line(s), 17345 fen",
        f"skipped household {county['B'][1]}: no_bank_account",
    ]
    assert money.differences() == []


def test_flask_payouts_batch_refuses_unknown_or_foreign_staff(app, network, money, county):
    runner = app.test_cli_runner()
    unknown = runner.invoke(args=["payouts", "batch", "--county", GUZHEN, "--staff", "nobody"])
    assert unknown.exit_code != 0
    assert "no user nobody" in unknown.output
    foreign = runner.invoke(
        args=["payouts", "batch", "--county", GUZHEN, "--staff", _username(app, county["E"][2])]
    )
    assert foreign.exit_code != 0
    assert "forbidden" in foreign.output
    assert count(app, Payout, Payout.batch_id.is_not(None)) == 0
