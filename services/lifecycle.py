"""The one shape of every state machine, and the one function that moves an object along it.

A lifecycle is data: rows of (state, action) → new state, each with an optional guard and the
name of the event it records. ``apply`` looks the row up, runs the guard, sets the new state and
records the event, or raises before it has written anything. Tables are in
``services/lifecycles.py``; ``tests/unit/test_lifecycles.py`` walks every one of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update

from models import User, db
from models.base import utcnow
from services import audit
from services.error_codes import CommonError
from services.errors import ErrorCode, InvalidState

# A state is an enum member, or a tuple of them for a lifecycle kept in several columns.
State = Any
# A guard looks at the object and returns the refusal to raise, or None to let the move happen.
Guard = Callable[[Any], ErrorCode | None]


@dataclass(frozen=True)
class Transition:
    source: State
    action: str
    target: State
    event: str  # what the audit trail calls this move, e.g. "shop.approve"
    guard: Guard | None = None


@dataclass(frozen=True)
class Move:
    """What ``apply`` did: the row it followed and the state it left."""

    transition: Transition
    previous: State


Recorder = Callable[["Lifecycle", User | None, Any, Move, dict], None]


@dataclass
class Lifecycle:
    name: str
    object_type: str  # the audit trail's name for the object ("shop", "product" ...)
    initial: State
    states: frozenset
    transitions: Iterable[Transition]
    # How to read and write the state of an object (one column, or several for a composite).
    read: Callable[[Any], State]
    write: Callable[[Any, State], None]
    # The refusal an action answers from a state it cannot start from, when the action has a
    # more telling one than the generic ``invalid_state`` (``review_pending`` for an edit).
    refusals: Mapping[str, ErrorCode] = field(default_factory=dict)
    # How a state is named to a client in an ``invalid_state`` answer.
    label: Callable[[State], str] = str
    # States meant to be the end (a cancelled order): the walk test lets them have no way out.
    final: frozenset = frozenset()
    # How this machine records a move when the caller names no recorder (default: the audit
    # trail); shop orders also keep the events their buyer and household read.
    recorder: Recorder | None = None

    def __post_init__(self) -> None:
        self.transitions = tuple(self.transitions)
        self.table: dict[tuple[State, str], Transition] = {}
        for row in self.transitions:
            key = (row.source, row.action)
            if key in self.table:
                raise ValueError(f"{self.name}: {key} appears twice")
            if row.source not in self.states or row.target not in self.states:
                raise ValueError(f"{self.name}: {row} names a state not declared")
            self.table[key] = row
        self.actions = frozenset(row.action for row in self.transitions)
        for action, refusal in self.refusals.items():
            if action not in self.actions or refusal.kind is not InvalidState:
                raise ValueError(f"{self.name}: refusal of {action} must be an InvalidState code")

    def find(self, state: State, action: str) -> Transition | None:
        if action not in self.actions:
            raise ValueError(f"{self.name} has no action {action!r}")
        return self.table.get((state, action))

    def allows(self, obj: Any, action: str) -> bool:
        return self.find(self.read(obj), action) is not None


def single_column(column: str) -> tuple[Callable[[Any], State], Callable[[Any, State], None]]:
    """``read``/``write`` of a lifecycle kept in one column."""
    return (lambda obj: getattr(obj, column)), (lambda obj, state: setattr(obj, column, state))


def record_audit(
    machine: Lifecycle, actor: User | None, obj: Any, move: Move, detail: dict
) -> None:
    """The default event: a row of the audit trail naming both states."""
    audit.record(
        actor,
        move.transition.event,
        machine.object_type,
        obj.id,
        on_behalf_of=detail.pop("on_behalf_of", None),
        previous=machine.label(move.previous),
        state=machine.label(move.transition.target),
        **detail,
    )


def check(machine: Lifecycle, obj: Any, action: str) -> Transition:
    """The row ``apply`` would follow, or the refusal it would raise; changes nothing (for a
    service that validates more before it moves the object)."""
    state = machine.read(obj)
    row = machine.find(state, action)
    if row is None:
        refusal = machine.refusals.get(action, CommonError.INVALID_STATE)
        raise refusal(errors={"state": [machine.label(state)], "action": [action]})
    if row.guard is not None and (objection := row.guard(obj)) is not None:
        raise objection(errors={"state": [machine.label(state)], "action": [action]})
    return row


def apply(
    machine: Lifecycle,
    obj: Any,
    action: str,
    *,
    actor: User | None,
    record: Recorder | None = None,
    **detail: Any,
) -> Move:
    """Move ``obj`` by ``action`` and record the event, in the caller's transaction.

    Raises (before writing anything) the action's refusal, or ``invalid_state`` naming the state
    and the action, when the table has no such row; the guard's refusal when it objects.
    """
    row = check(machine, obj, action)
    state = machine.read(obj)
    machine.write(obj, row.target)
    move = Move(row, state)
    (record or machine.recorder or record_audit)(machine, actor, obj, move, detail)
    return move


def move_if_unchanged(obj: Any, row: Transition, *, column: str, **values: Any) -> bool:
    """Write ``row``'s move with one conditional UPDATE, only if the object is still in the
    row's source state in the database (two racing acts: exactly one moves it). False, having
    written nothing, when it had moved meanwhile; the caller decides what the loser is told.
    The object is refreshed when it moved."""
    model = type(obj)
    moved = db.session.execute(
        update(model)
        .where(model.id == obj.id, getattr(model, column) == row.source)
        .values({column: row.target, "updated_at": utcnow(), **values})
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return False
    db.session.refresh(obj)
    return True
