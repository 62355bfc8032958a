from tests.money import Money


def test_a_sale_reaches_the_household_and_is_paid_out(chain, network, pay):
    money = Money(chain, network)
    part, household_id = money.sold(price_fen=4500, quantity=2)
    farmer = part.offer.farmer
    assert money.balance(farmer, household_id) == {
        "household_id": household_id,
        "pending_fen": 0,
        "available_fen": 9000,
        "in_flight_fen": 0,
        "paid_out_fen": 0,
    }
    asked = money.ask_payout(farmer, household_id, 5000, "wechat_transfer")
    assert asked.status_code == 201, asked.json
    assert asked.json["state"] == "wait_user_confirm"
    assert asked.json["confirm_params"]["package"]
    pay.confirm_transfer(asked.json["out_bill_no"])
    headers, body = pay.transfer_notification(asked.json["out_bill_no"])
    told = chain.client.post("/api/v1/payments/wechat/transfer-notify", data=body, headers=headers)
    assert told.status_code == 200, told.json
    assert money.balance(farmer, household_id)["paid_out_fen"] == 5000
    assert money.balance(farmer, household_id)["available_fen"] == 4000
    assert money.differences() == []
