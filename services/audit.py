"""Audit rows are added to the caller's transaction, so an act and its record commit together."""

from __future__ import annotations

from models import AuditEvent, User, db


def record(
    actor: User | None,
    action: str,
    object_type: str,
    object_id: object,
    *,
    on_behalf_of: int | None = None,
    **detail,
) -> AuditEvent:
    event = AuditEvent(
        actor_id=actor.id if actor else None,
        on_behalf_of_household_id=on_behalf_of,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        detail=detail,
    )
    db.session.add(event)
    return event
