"""``flask fulfilment ...``: the jobs of the fulfilment chain (run by cron or a scheduler)."""

from __future__ import annotations

from flask.cli import AppGroup

fulfilment_cli = AppGroup("fulfilment", help="Stations, deadlines and WeChat shipping uploads.")
