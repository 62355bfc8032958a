"""Health, the OpenAPI document and its docs UI (served from local files only)."""

import re

from api.auth import BEARER_SCHEME


def test_healthz(client):
    assert client.get("/healthz").json == {"status": "ok", "database": "ok"}


def test_openapi_document(client):
    spec = client.get("/api/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert spec["components"]["securitySchemes"]["bearerAuth"] == BEARER_SCHEME
    assert "/api/v1/households/{household_id}" in spec["paths"]
    error = spec["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "status", "error", "message"}


def test_docs_ui_uses_only_local_assets(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/openapi.json" in html
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls and all(not u.startswith(("http://", "https://", "//")) for u in urls), urls
    for url in urls:
        if url.endswith((".js", ".css")):
            assert client.get(url).status_code == 200, url
