"""ID numbers never leave the server unmasked, except through the audited staff reveal."""

from __future__ import annotations

import logging

from sqlalchemy import select

from models import AuditEvent, Household, db
from models.enums import ConsentPurpose
from tests.factories import GUZHEN, VILLAGE_A, valid_id_number


def test_id_number_never_appears_in_responses_or_logs(app, client, world, caplog):
    caplog.set_level(logging.DEBUG)
    staff = world.staff(GUZHEN)
    helper = world.helper(VILLAGE_A)
    id_number = valid_id_number()
    phone = "13912345678"
    created = client.post(
        "/api/v1/households",
        json={
            "registry_no": "PII-0001",
            "head_name": "张秀英",
            "id_number": id_number,
            "village_code": VILLAGE_A,
            "poverty_status": "monitored",
            "phone": phone,
        },
        headers=staff.headers,
    )
    assert created.status_code == 201
    household_id = created.json["id"]
    assert created.json["id_number_masked"] == f"{id_number[:4]}**********{id_number[-4:]}"
    farmer = world.farmer(household_id)
    world.consent(household_id, helper, ConsentPurpose.MANAGE_SHOP, by=staff)
    shop = client.post(
        "/api/v1/shops",
        json={"household_id": household_id, "name": "秀英家"},
        headers=farmer.headers,
    )
    bodies = [created, shop]
    for person in (staff, farmer, helper, world.admin()):
        for path in (
            f"/api/v1/households/{household_id}",
            "/api/v1/me",
            "/api/v1/me/shops",
            f"/api/v1/shops/{shop.json['id']}",
        ):
            bodies.append(client.get(path, headers=person.headers))
    bodies.append(
        client.patch(
            f"/api/v1/households/{household_id}", json={"phone": phone}, headers=helper.headers
        )
    )
    # A request that fails validation must not echo the number back either.
    bodies.append(
        client.post(
            "/api/v1/households", json={"id_number": id_number, "x": 1}, headers=staff.headers
        )
    )
    for response in bodies:
        assert id_number not in response.get_data(as_text=True), response.request.path
    assert id_number not in caplog.text
    helper_view = client.get(f"/api/v1/households/{household_id}", headers=helper.headers).json
    assert helper_view["phone"] == "139****5678"
    with app.app_context():
        row = db.session.get(Household, household_id)
        assert id_number not in row.id_number_cipher and id_number not in row.id_number_index


def test_reveal_is_the_one_audited_way_out(app, client, world):
    staff = world.staff(GUZHEN)
    id_number = valid_id_number()
    household_id = world.household(by=staff, id_number=id_number)
    response = client.get(
        f"/api/v1/admin/households/{household_id}/id-number?reason=核对帮扶档案",
        headers=staff.headers,
    )
    assert response.json == {"household_id": household_id, "id_number": id_number}
    with app.app_context():
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "household.reveal_id_number")
        )
        assert event.actor_id == staff.id
        assert event.detail == {"reason": "核对帮扶档案"}
        assert id_number not in str(event.detail)
