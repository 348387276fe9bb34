"""Reason details and times for Chinese readers: the known English detail templates, in Chinese (#20).

A reason's detail (dates, region codes, counts) is written once, in English, where the check
runs; ``Reason.message("zh")`` passes it through :func:`to_zh` so ``--lang zh`` output is
Chinese throughout, with times in Beijing time (JSON ``verified_at`` and friends stay ISO 8601).
A detail no template knows is shown as it is.
"""

from __future__ import annotations

import datetime as dt
import re

from elicense.basics import CHINA_TZ

_ISO = re.compile(r"\b(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})")
_STATES = {"revoked": "吊销", "cancelled": "注销", "annulled": "撤销", "key_compromise": "签名密钥泄露",
           "suspended": "暂扣", "superseded": "变更/换发", "valid": "有效"}  # fmt: skip
_TEMPLATES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(.+)/[a-z_]+, since ([^,]+), successor (\S+)$"), r"\1，自 \2起；新证照 \3"),
    (re.compile(r"^(.+)/[a-z_]+, since ([^,]+)$"), r"\1，自 \2起"),
    (re.compile(r"^(.+)/[a-z_]+, successor (\S+)$"), r"\1；新证照 \2"),
    (re.compile(r"^(.+)/[a-z_]+$"), r"\1"),
    (re.compile(r"^(\S+) from (\d{6}) in (\d{6})$"), r"\2 签发的 \1 类证照不在 \3 的互认范围内"),
    (re.compile(r"^next update (.+)$"), r"下次更新应在 \1"),
    (re.compile(r"^region (\S+)$"), r"地区 \1"),
    (re.compile(r"^area (\S+)$"), r"行政区划 \1"),
    (re.compile(r"^kid (\S+)$"), r"密钥标识 \1"),
    (re.compile(r"^serial (\S+)$"), r"证书序列号 \1"),
    (re.compile(r"^element (.+)$"), r"字段 \1"),
    (re.compile(r"^(\d+) bytes$"), r"\1 字节"),
    (re.compile(r"^(\d+) signatures$"), r"\1 个签名"),
    (re.compile(r"^(\d+) CRLs in the DSS$"), r"DSS 中有 \1 个 CRL"),
    (re.compile(r"^(\S+) ≠ (\S+)$"), r"\1 与 \2 不符"),
    (re.compile(r"^(\d+) ≥ (\d+)$"), r"状态索引 \1 超出列表长度 \2"),
    (re.compile(r"^(.+): (\w+) since (.+)$"), r"\1：自 \3 起\2"),
    (re.compile(r"^(\w+) since (.+)$"), r"自 \2 起\1"),
    (re.compile(r"^valid from (.+)$"), r"自 \1 起有效"),
    (re.compile(r"^valid until (.+)$"), r"有效至 \1"),
    (re.compile(r"^signed (.+)$"), r"签名于 \1"),
)


def human_time(when: dt.datetime, lang: str) -> str:
    """A time for people: Beijing time in the reader's format (JSON keeps ISO 8601 with ``Z``)."""
    try:
        t = when.astimezone(CHINA_TZ)
    except OverflowError:  # within 8 hours of datetime's end (a hostile signed time): keep UTC, say so
        return f"{when:%Y-%m-%d %H:%M} UTC"
    if lang == "zh":
        return f"{t.year}年{t.month}月{t.day}日 {t:%H:%M}（北京时间）"
    return f"{t.day} {t:%b} {t.year} {t:%H:%M} (Beijing time)"


def _time(m: re.Match[str]) -> str:
    offset = m.group(3)
    try:
        when = dt.datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}{'+00:00' if offset == 'Z' else offset}")
    except ValueError:
        return m.group(0)
    return human_time(when, "zh")


def to_zh(detail: str) -> str:
    """``detail`` for a Chinese reader (unknown shapes unchanged, but times always in Beijing time)."""
    text = _ISO.sub(_time, detail)
    for pattern, replacement in _TEMPLATES:
        if pattern.match(text):
            text = pattern.sub(replacement, text)
            break
    for key, zh in _STATES.items():
        text = re.sub(rf"(?<![\w-]){key}(?![\w-])", zh, text)
    return text
