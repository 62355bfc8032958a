"""The error-code catalog is the one place codes and messages are written, its docs are current,
and every operation publishes the codes it can answer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api import errors_doc
from api.blueprint import SPEC_KEY, declared_errors
from api.errors import KIND_STATUS, code_table
from services.errors import KINDS, DomainError, all_codes
from tests.factories import assert_error

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("api", "models", "services", "media", "wechat", "storefront")
CATALOG = ROOT / "services" / "error_codes.py"


def source_files():
    for folder in SOURCE_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path != CATALOG:
                yield path


def test_docs_errors_md_is_current(app):
    text = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    assert text == errors_doc.render(app), "docs/errors.md is stale: run `flask errors doc`"


def test_the_cli_checks_the_docs(app):
    result = app.test_cli_runner().invoke(args=["errors", "doc", "--check"])
    assert result.exit_code == 0, result.output
    assert "current" in result.output


def test_codes_and_messages_are_written_only_in_the_catalog():
    entries = list(all_codes().values())
    found = []
    for path in source_files():
        text = path.read_text(encoding="utf-8")
        for entry in entries:
            for literal in (entry.code, entry.message):
                if re.search(rf"[\"']{re.escape(literal)}[\"']", text):
                    found.append((str(path.relative_to(ROOT)), literal))
    assert found == []


def test_every_kind_has_a_status_and_every_code_a_kind():
    assert set(KIND_STATUS) == set(KINDS)
    table = code_table()
    assert len(table) == len(all_codes()) > 50
    for code, entry in all_codes().items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", code), code
        assert entry.message and not entry.message.isascii(), code  # Chinese, for a toast
        assert issubclass(entry.kind, DomainError)


def test_an_entry_makes_its_own_kind_of_error():
    from services.error_codes import ShopError
    from services.errors import Conflict, InvalidInput

    error = ShopError.SHOP_EXISTS(errors={"household_id": ["已开店"]})
    assert isinstance(error, Conflict)
    assert (error.code, error.message, error.errors) == (
        "shop_exists",
        "该户已开店",
        {"household_id": ["已开店"]},
    )
    with pytest.raises(TypeError):
        InvalidInput(ShopError.SHOP_EXISTS)  # an entry keeps the kind it was declared with


def test_every_operation_lists_only_catalog_codes(client):
    spec = client.get("/api/openapi.json").json
    codes = set(all_codes())
    listed = 0
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert set(operation.get(SPEC_KEY, [])) <= codes, (method, path)
            listed += bool(operation.get(SPEC_KEY))
    assert listed >= 30


def test_views_carry_what_they_declare(app):
    view = app.view_functions["shops.open_shop"]
    declared = {entry.code for entry in declared_errors(view)}
    assert {"shop_exists", "household_not_verified", "unauthorized", "missing_body"} <= declared


def test_approving_with_no_body_is_accepted(client, catalog):
    """POST /admin/products/{id}/approve with no body answered 422 missing_body though every
    field of it is optional: an action whose body is all optional takes an empty body."""
    shop_id, farmer, staff = catalog.open_shop()
    product_id = catalog.submitted(shop_id, farmer)
    response = client.post(f"/api/v1/admin/products/{product_id}/approve", headers=staff.headers)
    assert response.status_code == 200, response.json
    assert response.json["status"] == "listed"


def test_a_patch_still_needs_a_body(client, catalog):
    shop_id, farmer, _ = catalog.open_shop()
    response = client.patch(f"/api/v1/shops/{shop_id}", headers=farmer.headers)
    assert_error(response, 422, "missing_body")
