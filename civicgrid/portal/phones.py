"""Citizens' phone numbers as the portal keeps them: a mainland mobile number of 11 digits,
however it was typed (spaces, dashes, +86)."""

from __future__ import annotations

import re

_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_SEPARATORS = re.compile(r"[\s\-()（）]")


def normalized(text: str | None) -> str | None:
    """The 11-digit mobile number in ``text`` ("+86 138-0000-0000" → "13800000000"), or
    None when it is no mainland mobile number."""
    if not text:
        return None
    digits = _SEPARATORS.sub("", text)
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix) :]
            break
    return digits if _MOBILE.fullmatch(digits) else None


def masked(phone: str) -> str:
    """An 11-digit number as a page may show it: 138****0000."""
    return f"{phone[:3]}****{phone[-4:]}"
