"""Shared schemas: the one error shape, strict input base, list envelopes, field helpers.

The OpenAPI spec is generated from these schemas and is a promise: what it calls valid is
accepted (unless a rule no schema can state says otherwise, e.g. "this code names a village"),
what it calls invalid is refused with 422. Field helpers here keep the two in step.
"""

import re
from collections.abc import Callable

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from models.base import MAX_ID
from services.pii import BLANKS

# Characters no text column can hold: U+0000 (PostgreSQL refuses it in text and jsonb) and
# lone surrogates (JSON can escape them, UTF-8 cannot encode them). The spec's patterns name
# only U+0000: surrogates are not characters, and not every regex engine accepts them.
_UNSTORABLE_RE = re.compile(r"[\x00\ud800-\udfff]")
_STORABLE = "[^\\x00]"
_STORABLE_SOLID = f"[^{BLANKS}\\x00]"


class InputSchema(Schema):
    """Input schemas reject unknown fields (422 ``unknown_field``)."""

    class Meta:
        unknown = RAISE


class ErrorSchema(Schema):
    code = fields.Integer(required=True, metadata={"description": "HTTP status"})
    status = fields.String(required=True)
    error = fields.String(required=True, metadata={"description": "stable snake_case code"})
    message = fields.String(required=True, metadata={"description": "short Chinese message"})
    errors = fields.Dict(metadata={"description": "field details"})


def page_of(item: type[Schema], name: str) -> type[Schema]:
    """The list envelope every list answers with: ``{"items": [...], "next_cursor": ...}``
    (``next_cursor`` is null on the last page; lists that are never paged always send null)."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item), required=True),
            "next_cursor": fields.String(
                required=True,
                allow_none=True,
                metadata={"description": "pass as ?cursor= for the next page; null: no more"},
            ),
        },
        name=name,
    )


class Pattern(validate.Regexp):
    """``validate.Regexp`` with the spec's meaning of a pattern.

    The spec's patterns are ECMA-262 regular expressions, where a final ``$`` is the end of the
    string; Python's ``$`` also matches before a final newline, so ``"ABCD\\n"`` would pass
    ``^[A-Z]{4}$`` here and be refused by the spec. The published pattern stays as written.
    """

    def __init__(self, regex: str, error: str | None = None) -> None:
        super().__init__(regex, error=error)
        whole = regex[:-1] + r"\Z" if regex.endswith("$") and not regex.endswith("\\$") else regex
        self._checked: re.Pattern[str] = re.compile(whole)

    def __call__(self, value: str) -> str:  # type: ignore[override]  # text only, never bytes
        if self._checked.search(value) is None:
            raise ValidationError(self._format_error(value))
        return value


def id_field(**kwargs) -> fields.Integer:
    """A reference to a row by id: a JSON integer from 1 to ``MAX_ID``."""
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


def text_pattern(min_len: int = 0) -> str:
    """The spec pattern of ``text(min_len=...)``: storable, and ``min_len`` characters after
    stripping blanks (its first and last non-blank characters are ``min_len - 2`` apart)."""
    any_, solid = _STORABLE, _STORABLE_SOLID
    if min_len <= 0:
        return f"^{any_}*$"
    if min_len == 1:
        return f"^{any_}*{solid}{any_}*$"
    return f"^{any_}*{solid}{any_}{{{min_len - 2},}}{solid}{any_}*$"


def text(max_len: int, *, required: bool = False, min_len: int = 0, **kwargs) -> fields.String:
    """Free text: at most ``max_len`` characters, storable, and when ``min_len`` is given, at
    least that many once blanks are stripped. The spec states all of it (length and pattern)."""
    metadata = {"pattern": text_pattern(min_len), **kwargs.pop("metadata", {})}
    validators: list[Callable[[str], object]] = [
        validate.Length(min=min_len or None, max=max_len),
        _storable,
    ]
    if min_len:
        validators.append(_not_blank(min_len))
    return fields.String(required=required, validate=validators, metadata=metadata, **kwargs)


def _storable(value: str) -> None:
    if _UNSTORABLE_RE.search(value):
        raise ValidationError("包含无法保存的字符")


def _not_blank(min_len: int):
    def check(value: str) -> None:
        if len(value.strip()) < min_len:
            raise ValidationError("不能为空")

    return check
