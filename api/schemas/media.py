from flask import request
from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, pre_load, validate
from werkzeug.datastructures import FileStorage

from api.schemas.common import InputSchema
from media import SUPPORTED_TYPES

FORMATS = ("webp", "jpeg")


class OneFile(Upload):
    """A multipart file part; exactly one under its name.

    ``is_multiple`` makes webargs hand over every part of that name, so a second one is refused
    (422) rather than silently dropped.
    """

    is_multiple = True

    def _deserialize(self, value, attr, data, **kwargs) -> FileStorage:
        parts = value if isinstance(value, list | tuple) else [value]
        if len(parts) != 1:
            raise ValidationError("一次只能上传一张图片")
        if not isinstance(parts[0], FileStorage):
            raise ValidationError("请选择一张图片")
        return parts[0]


# What the spec says the part holds (the server sniffs the bytes, whatever the part claims).
IMAGE_TYPES = ", ".join(sorted(SUPPORTED_TYPES))


class MediaUploadIn(InputSchema):
    """``multipart/form-data`` as ``wx.uploadFile`` sends it (``name: "file"``). Any other part,
    file or text (``formData``), is refused like an unknown JSON field (422 ``unknown_field``)."""

    file = OneFile(
        required=True,
        error_messages={"required": "请选择一张图片"},
        metadata={
            "description": "JPEG, PNG or WebP (HEIC where supported), at most 10 MB; the type "
            "is read from the bytes, never from the file name"
        },
    )

    @pre_load
    def _no_text_parts(self, data, **kwargs):
        # webargs reads the "files" location only; the text parts sit in request.form.
        errors = {
            name: ["请以文件形式上传图片"] if name == "file" else ["Unknown field."]
            for name in request.form
        }
        if errors:
            raise ValidationError(errors)
        return data


class MediaVariantOut(Schema):
    width = fields.Integer(required=True)
    height = fields.Integer(required=True)
    format = fields.String(required=True, validate=validate.OneOf(FORMATS))
    url = fields.String(
        required=True, metadata={"description": "absolute, or relative to the API host"}
    )


class MediaOut(Schema):
    id = fields.Integer(required=True)
    sha256 = fields.String(required=True, metadata={"description": "of the uploaded bytes"})
    width = fields.Integer(required=True, metadata={"description": "upright, after EXIF rotation"})
    height = fields.Integer(required=True)
    variants = fields.List(
        fields.Nested(MediaVariantOut),
        required=True,
        metadata={"description": "WebP and a JPEG fallback per width, smallest first"},
    )
