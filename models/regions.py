"""Administrative divisions keyed by their official codes."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Model, str_enum
from models.enums import RegionLevel

COUNTY_CODE_LENGTH = 6
LONG_CODE_LENGTH = 12  # statistics-bureau township and village codes


class Region(Model):
    """Province/city/county rows use 6-digit GB/T 2260 codes; townships and villages use the
    12-digit codes of the statistics bureau, whose first six digits are the county."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    level: Mapped[RegionLevel] = mapped_column(str_enum(RegionLevel, 16))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)

    @property
    def county_code(self) -> str | None:
        if self.level in (RegionLevel.TOWNSHIP, RegionLevel.VILLAGE, RegionLevel.COUNTY):
            return self.code[:COUNTY_CODE_LENGTH]
        return None
