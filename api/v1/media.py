"""Photo uploads (what ``wx.uploadFile`` sends): one file a call, any signed-in user."""

from flask import current_app, g
from flask_limiter.util import get_remote_address
from marshmallow import RAISE

from api.auth import current_user, protected
from api.blueprint import Blueprint
from api.extensions import limiter
from api.schemas.media import IMAGE_TYPES, MediaOut, MediaUploadIn
from media import MAX_BYTES
from services import media as media_service
from services.error_codes import CommonError, MediaError

blp = Blueprint("media", __name__, url_prefix="/api/v1", description="图片上传")


def _upload_limit() -> str:
    return current_app.config["MEDIA_UPLOAD_RATE_LIMIT"]


def _uploader_key() -> str:
    # ``@protected`` sits above the limit, so the token is checked first and the user is known
    # here: one budget per person, whatever address or token they come from.
    user = g.get("current_user")
    return f"user:{user.id}" if user is not None else f"addr:{get_remote_address()}"


def present_media(media) -> dict:
    return {
        "id": media.id,
        "sha256": media.sha256,
        "width": media.width,
        "height": media.height,
        "variants": media_service.media_urls(media),
    }


@blp.route("/media", methods=["POST"])
@protected(blp)
@limiter.limit(_upload_limit, key_func=_uploader_key)
# webargs excludes unknown "files" parts by default; like unknown JSON fields they are refused.
@blp.arguments(MediaUploadIn, location="files", unknown=RAISE)
@blp.response(201, MediaOut, description="Stored: the photo's variants")
@blp.alt_response(200, schema=MediaOut, description="This photo was uploaded before: its row")
@blp.errors(*MediaError, CommonError.RATE_LIMITED)
@blp.doc(
    requestBody={
        "content": {"multipart/form-data": {"encoding": {"file": {"contentType": IMAGE_TYPES}}}}
    }
)
def upload_media(data):
    """Upload a photo (multipart field ``file``); answers its id and variant URLs.

    The type is read from the bytes (JPEG, PNG, WebP; HEIC where supported); EXIF rotation is
    applied and all metadata (GPS above all) dropped. The error codes below say what was wrong
    with the photo; ``storage_unavailable`` means: retry later.
    """
    # One byte over the limit is enough to refuse it; the request itself is capped a little
    # above (MAX_CONTENT_LENGTH) for the multipart envelope.
    payload = data["file"].stream.read(MAX_BYTES + 1)
    media, created = media_service.store_media(current_user(), data=payload)
    return present_media(media), 201 if created else 200
