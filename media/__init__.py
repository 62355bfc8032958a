"""Photos: validate and normalise uploads into variants (``images``), and store them (``storage``).

A pure library: no Flask, no database. The media service calls ``process_image`` and then
``Storage.put`` for each variant; both raise exceptions that name the problem (the error
catalog in ``services/error_codes.py`` says how each is told to the user).
"""

from media.images import (
    DEFAULT_WIDTHS,
    MAX_BYTES,
    SUPPORTED_TYPES,
    ImageProblem,
    ImageRejected,
    ProcessedImage,
    Variant,
    process_image,
    sniff_type,
    variant_key,
)
from media.storage import LocalStorage, S3Storage, Storage, StorageUnavailable

__all__ = [
    "DEFAULT_WIDTHS",
    "MAX_BYTES",
    "SUPPORTED_TYPES",
    "ImageProblem",
    "ImageRejected",
    "LocalStorage",
    "ProcessedImage",
    "S3Storage",
    "Storage",
    "StorageUnavailable",
    "Variant",
    "process_image",
    "sniff_type",
    "variant_key",
]
