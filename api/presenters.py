"""Turn models into the plain dicts the output schemas dump, applying per-viewer masking."""

from __future__ import annotations

from models import Household, User
from services import access, pii, regions


def present_user(user: User) -> dict:
    region_names = regions.region_names({g.region_code for g in user.grants if g.region_code})
    return {
        "id": user.id,
        "nickname": user.nickname,
        "username": user.username,
        "roles": [
            {
                "role": g.role,
                "scope": {
                    "region_code": g.region_code,
                    "region_name": region_names.get(g.region_code) if g.region_code else None,
                    "household_id": g.household_id,
                    "unit_id": g.unit_id,
                    "station_id": g.station_id,
                },
            }
            for g in user.grants
        ],
    }


def present_household(household: Household, viewer: User) -> dict:
    return {
        "id": household.id,
        "registry_no": household.registry_no,
        "head_name": household.head_name,
        "id_number_masked": household.id_number_masked,
        "phone": household.phone
        if access.sees_phone(viewer, household)
        else pii.mask_phone(household.phone),
        "village": {"code": household.village.code, "name": household.village.name},
        "county_code": household.county_code,
        "poverty_status": household.poverty_status,
        "verification_status": household.verification_status,
        "verified_at": household.verified_at,
        "consents": household.consents,
        "created_at": household.created_at,
        "updated_at": household.updated_at,
    }
