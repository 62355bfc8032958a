"""The way from the village to the buyer: stations of the county network, what each act along
it recorded (events), the batches goods were handed in as (each with its own trace code), the
parcels they left in, and the shipping information WeChat must be told."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Model, TimestampMixin, str_enum, utcnow
from models.enums import (
    Category,
    InspectionResult,
    ShipMethod,
    ShippingUploadStatus,
    StationKind,
)


class Station(TimestampMixin, Model):
    """村级服务点 / 乡镇服务站 / 县级运营中心 / 线下专柜. Positions are GCJ-02 (what WeChat's map
    uses), in degrees."""

    __tablename__ = "stations"
    __table_args__ = (
        # Nearest-first search narrows to a box of latitudes (then longitudes) by this index,
        # and measures the exact distance only inside it (services/stations.py).
        Index("ix_stations_lat_lng", "lat", "lng"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[StationKind] = mapped_column(str_enum(StationKind, 24), index=True)
    name: Mapped[str] = mapped_column(String(60))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    address: Mapped[str] = mapped_column(String(200), default="")
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    opening_hours: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str] = mapped_column(String(20), default="")
    # Product categories it takes in ([] = all) and whether it keeps goods cold.
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    cold_chain: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class DirectShipping(Model):
    """A county lets farmers ship a category of goods themselves (accepted → shipped, no
    station), e.g. handicrafts that need no inspection."""

    __tablename__ = "direct_shipping"
    __table_args__ = (UniqueConstraint("county_code", "category"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    category: Mapped[Category] = mapped_column(str_enum(Category, 16))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ShopOrderEvent(Model):
    """One act on a ShopOrder (who, where, when, what they recorded), shown to the buyer, the
    household and staff. Append-only."""

    __tablename__ = "shop_order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_order_id: Mapped[int] = mapped_column(ForeignKey("shop_orders.id"), index=True)
    action: Mapped[str] = mapped_column(String(24))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The capacity the actor acted in (farmer, helper, station_operator, county_staff, buyer),
    # or None for the system (a deadline, the auto-confirmation).
    actor_role: Mapped[str | None] = mapped_column(String(24))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    station: Mapped[Station | None] = relationship(lazy="joined")


class Batch(TimestampMixin, Model):
    """Goods of one ShopOrder handed in at a station: weighed, counted, graded, photographed and
    labelled with their own trace code (一品一码); the county centre's inspection is recorded on
    it. What the public trace page shows comes from here, written by the work itself."""

    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    shop_order_id: Mapped[int] = mapped_column(ForeignKey("shop_orders.id"), unique=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"), index=True)
    village_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    weight_g: Mapped[int]
    count: Mapped[int]
    grade: Mapped[str] = mapped_column(String(16))
    harvest_date: Mapped[date | None]
    photo_media_id: Mapped[int | None] = mapped_column(ForeignKey("media.id"))
    temperature_c: Mapped[float | None] = mapped_column(Float)
    handed_in_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    handed_in_at: Mapped[datetime] = mapped_column(default=utcnow)
    inspection_result: Mapped[InspectionResult | None] = mapped_column(
        str_enum(InspectionResult, 8)
    )
    inspection_reason: Mapped[str] = mapped_column(String(200), default="")
    report_media_id: Mapped[int | None] = mapped_column(ForeignKey("media.id"))
    inspection_station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    inspected_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    inspected_at: Mapped[datetime | None]

    station: Mapped[Station] = relationship(foreign_keys=[station_id], lazy="joined")


class Shipment(Model):
    """A parcel (or a counter pickup): one ShopOrder, or many to one buyer consolidated."""

    __tablename__ = "shipments"

    id: Mapped[int] = mapped_column(primary_key=True)
    # None when the farmer ships directly.
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"), index=True)
    method: Mapped[ShipMethod] = mapped_column(str_enum(ShipMethod, 16))
    carrier: Mapped[str] = mapped_column(String(32), default="")  # WeChat's delivery_id
    tracking_no: Mapped[str] = mapped_column(String(64), default="")
    temperature_c: Mapped[float | None] = mapped_column(Float)
    shipped_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    shipped_at: Mapped[datetime] = mapped_column(default=utcnow)


class ShippingUpload(TimestampMixin, Model):
    """WeChat's shipping information for one payment (upload_shipping_info): made when the
    payment's last part ships or is refunded, sent after the commit, retried until WeChat has it.
    WeChat takes it once per payment, so there is one row per order."""

    __tablename__ = "shipping_uploads"
    __table_args__ = (Index("ix_shipping_uploads_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    status: Mapped[ShippingUploadStatus] = mapped_column(
        str_enum(ShippingUploadStatus, 16), default=ShippingUploadStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(String(200), default="")
    last_attempt_at: Mapped[datetime | None]
    uploaded_at: Mapped[datetime | None]
