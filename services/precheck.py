"""Automatic pre-check of a listing before it reaches the county's queue.

Nothing here publishes anything: every listing still waits for staff. A hit only *flags* the
listing, so staff see it first and know why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from flask import current_app

from models import User
from services.wechat_gateway import wechat_client
from wechat.errors import WeChatError

log = logging.getLogger(__name__)
BANNED_WORDS_FILE = Path(__file__).parent / "data" / "banned_words.txt"


@dataclass(frozen=True)
class Verdict:
    flagged: bool
    detail: str  # Chinese, shown to staff beside the listing


@cache
def _default_banned_words() -> tuple[str, ...]:
    lines = BANNED_WORDS_FILE.read_text(encoding="utf-8").splitlines()
    return tuple(w.strip() for w in lines if w.strip() and not w.startswith("#"))


def banned_words() -> tuple[str, ...]:
    extra = current_app.config.get("BANNED_WORDS") or ""
    return _default_banned_words() + tuple(w.strip() for w in extra.split(",") if w.strip())


def listing_text(draft: dict) -> str:
    parts = [draft.get(k) or "" for k in ("title", "description", "story", "unit")]
    parts += [sku.get("spec_name", "") for sku in draft.get("skus") or []]
    return "\n".join(p for p in parts if p)


def check_listing(actor: User, draft: dict) -> Verdict:
    text = listing_text(draft)
    hits = [word for word in banned_words() if word in text]
    if hits:
        return Verdict(True, "含禁用词：" + "、".join(hits[:5]))
    if not current_app.config.get("WECHAT_CONTENT_CHECK"):
        return Verdict(False, "")
    if not actor.openid:
        # msgSecCheck judges text in the name of a WeChat user; one signed in by password has
        # none. Staff are told rather than left to assume the check ran.
        return Verdict(False, "提交人未使用微信登录，未做微信内容安全检查，请人工审核")
    try:
        verdict = wechat_client().msg_sec_check(openid=actor.openid, content=text, scene=2)
    except WeChatError as exc:
        # Staff review every listing anyway; a WeChat outage must not block farmers.
        log.warning("content check unavailable (errcode %s)", exc.errcode)
        return Verdict(False, "微信内容安全检查暂不可用，请人工审核")
    if verdict.suggest == "risky":
        return Verdict(True, f"微信内容安全检查：有风险（标签 {verdict.label}）")
    if verdict.suggest == "review":
        return Verdict(True, f"微信内容安全检查：建议人工复核（标签 {verdict.label}）")
    return Verdict(False, "")
