"""``docs/errors.md``, written from the error catalog by ``flask errors doc``.

The mini-program team reads it to know every ``error`` code, its HTTP status and its message;
``tests/api/test_error_catalog.py`` fails when the checked-in file is not what this renders.
"""

from __future__ import annotations

import json
from collections import defaultdict
from http import HTTPStatus
from pathlib import Path

from flask import Flask

from api.blueprint import SPEC_KEY
from api.errors import status_of
from services.error_codes import ShopError
from services.errors import ErrorCode, all_codes

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "errors.md"

_HEADER = """# Error codes

Every error the API answers has one shape:

```json
{example}
```

Switch on `error` (stable); show `message` (short Chinese, for a toast); `errors` holds field
details when there are any. Each operation in `/api/openapi.json` lists the codes it can answer
(`x-error-codes`, and per status in its responses).

This file is generated from `services/error_codes.py` by `flask errors doc`; do not edit it.
"""


def operations_by_code(app: Flask) -> dict[str, list[str]]:
    """For each code, the operations (``METHOD /path``) whose spec lists it."""
    spec = app.test_client().get("/api/openapi.json").get_json()
    used: dict[str, list[str]] = defaultdict(list)
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for code in operation.get(SPEC_KEY, []) if isinstance(operation, dict) else []:
                used[code].append(f"{method.upper()} {path}")
    return used


def render(app: Flask) -> str:
    by_domain: dict[str, list[ErrorCode]] = defaultdict(list)
    for entry in all_codes().values():
        by_domain[entry.domain].append(entry)
    used = operations_by_code(app)
    example = ShopError.SHOP_EXISTS
    body = {
        "code": status_of(example),
        "status": HTTPStatus(status_of(example)).phrase,
        "error": example.code,
        "message": example.message,
        "errors": {"household_id": ["..."]},
    }
    lines = [_HEADER.format(example=json.dumps(body, ensure_ascii=False))]
    for domain, entries in by_domain.items():
        doc = (type(entries[0]).__doc__ or "").strip()
        lines.append(f"## {domain}\n")
        if doc:
            lines.append(f"{doc}\n")
        lines.append("| error | HTTP | message | answered by |")
        lines.append("|---|---|---|---|")
        for entry in entries:
            status = status_of(entry)
            ops = used.get(entry.code, [])
            where = f"{len(ops)} operations" if len(ops) > 4 else ", ".join(f"`{o}`" for o in ops)
            lines.append(
                f"| `{entry.code}` | {status} {HTTPStatus(status).phrase} | {entry.message} "
                f"| {where or '—'} |"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
