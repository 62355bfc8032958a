"""Shared schemas: the one error shape, strict input base, list envelopes."""

from marshmallow import RAISE, Schema, ValidationError, fields, validate


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


def text(max_len: int, *, required: bool = False, min_len: int = 0, **kwargs) -> fields.String:
    """A trimmed-length string field: ``min_len`` applies after stripping blanks."""
    return fields.String(
        required=required,
        validate=[validate.Length(max=max_len), _not_blank(min_len)]
        if min_len
        else validate.Length(max=max_len),
        **kwargs,
    )


def _not_blank(min_len: int):
    def check(value: str) -> None:
        if len(value.strip()) < min_len:
            raise ValidationError("不能为空")

    return check
