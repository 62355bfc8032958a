"""Administrative divisions: look-ups, validation and the vendored seed import."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from sqlalchemy import select

from models import Region, db
from models.enums import RegionLevel
from services.error_codes import RegionError

SEED_FILE = Path(__file__).parent / "data" / "regions_2023.csv"
# A county (6 digits) or township/village (12 digits) code; ASCII digits only.
CODE_PATTERN = r"^(?:[0-9]{6}|[0-9]{12})$"
VILLAGE_CODE_PATTERN = r"^[0-9]{12}$"
_CODE_RE = re.compile(CODE_PATTERN)


def check_code_format(code: str, field: str = "region") -> str:
    if not isinstance(code, str) or not _CODE_RE.fullmatch(code):
        raise RegionError.INVALID_REGION_CODE(errors={field: ["须为6位或12位数字"]})
    return code


def list_regions(*, parent: str | None) -> list[Region]:
    if parent is None:
        query = select(Region).where(Region.parent_code.is_(None))
    else:
        check_code_format(parent, "parent")
        if db.session.get(Region, parent) is None:
            raise RegionError.REGION_NOT_FOUND()
        query = select(Region).where(Region.parent_code == parent)
    return list(db.session.scalars(query.order_by(Region.code)))


def region_names(codes: set[str]) -> dict[str, str]:
    """code → name for the codes given, in one query."""
    if not codes:
        return {}
    return dict(
        db.session.execute(select(Region.code, Region.name).where(Region.code.in_(codes))).all()
    )


def require_region(code: str, level: RegionLevel, field: str) -> Region:
    check_code_format(code, field)
    region = db.session.get(Region, code)
    if region is None or region.level != level:
        raise RegionError.INVALID_REGION_CODE(errors={field: ["不是有效的地区代码"]})
    return region


def import_regions(path: Path = SEED_FILE) -> int:
    """Insert the rows of a code,name,level,parent_code CSV that are not there yet."""
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    known = set(db.session.scalars(select(Region.code)))
    added = 0
    # Parents come before children in the file; keep that order so foreign keys hold.
    for row in sorted(rows, key=lambda r: (len(r["code"]), r["code"])):
        if row["code"] in known:
            continue
        db.session.add(
            Region(
                code=row["code"],
                name=row["name"],
                level=RegionLevel(row["level"]),
                parent_code=row["parent_code"] or None,
            )
        )
        added += 1
    db.session.commit()
    return added
