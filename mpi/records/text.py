"""Text as every normaliser starts from it: stripped, upper-case ASCII, mis-encoded UTF-8 repaired.

Pure: no I/O, no logging, and no value ever reaches an exception message.
"""

from __future__ import annotations

import re
import unicodedata

# Letters that NFKD does not decompose into an ASCII base letter (Vietnamese Đ matters most here).
_NON_DECOMPOSING = str.maketrans(
    {"ß": "SS", "Æ": "AE", "æ": "AE", "Ø": "O", "ø": "O", "Đ": "D", "đ": "D", "Ł": "L", "ł": "L",
     "Œ": "OE", "œ": "OE", "Þ": "TH", "þ": "TH", "ı": "I"}
)
NAME_SEPARATORS = re.compile(r"[\s\-_/,]+")
NOT_ALNUM_SPACE = re.compile(r"[^A-Z0-9 ]")
NOT_ALNUM = re.compile(r"[^A-Z0-9]")
SPACES = re.compile(r" {2,}")
#: Control characters (C0, DEL and C1) as a regex character range: refused in keys, escaped in log lines.
CONTROL_RANGE = r"\x00-\x1f\x7f-\x9f"
#: Exactly the characters ``str.isspace`` (and so ``str.strip``) takes for white space, as a regex character
#: range written in escapes that Python and ECMA-262 (the OpenAPI document's patterns) read alike.
WHITESPACE_RANGE = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
#: A pattern text must match to be more than white space (a reason, a name): the same in the spec and the server.
NOT_BLANK = rf"^[{WHITESPACE_RANGE}]*[^{WHITESPACE_RANGE}]"
# UTF-8 two-byte sequences read as Latin-1/cp1252: a lead Â/Ã (ã/â once lower-cased), then a
# continuation byte shown as its Latin-1 or cp1252 character.
_MOJIBAKE_LEAD = re.compile("[ÂÃâã]")
_MOJIBAKE_PAIR = re.compile(
    "[ÂÃâã][\x80-\xbf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    "\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
)


def text(value: object) -> str:
    """Return the value as a stripped string, '' for None, so every rule starts from one shape."""
    if value is None:
        return ""
    return (value if isinstance(value, str) else str(value)).strip()


def _fix_mojibake_pair(match: re.Match[str]) -> str:
    lead = b"\xc3" if match[0][0] in "Ãã" else b"\xc2"
    try:
        trail = match[0][1].encode("cp1252")
    except UnicodeEncodeError:
        trail = match[0][1].encode("latin-1")  # bytes cp1252 leaves undefined, e.g. \x81 of 'Á'
    try:
        return (lead + trail).decode("utf-8")
    except UnicodeDecodeError:
        return match[0]


def _repair_mojibake(s: str) -> str:
    """Undo UTF-8 text that was decoded as Latin-1/cp1252 (``GarcÃ­a`` -> ``García``).

    Only tried when a tell-tale lead character is present. The whole-string round trip handles the
    clean cases; the per-pair pass handles strings re-cased after the damage (``sã¡nchez``) or
    mixing good and bad characters. Legitimate text (``JOÃO``) fails both and is left as it is.
    """
    if not _MOJIBAKE_LEAD.search(s):
        return s
    for codec in ("cp1252", "latin-1"):
        try:
            return s.encode(codec).decode("utf-8")
        except UnicodeError:
            pass
    return _MOJIBAKE_PAIR.sub(_fix_mojibake_pair, s)


def ascii_upper(s: str) -> str:
    """Fold to upper-case ASCII: repair mojibake, then strip accents via NFKD."""
    if s.isascii():  # the common case, and the hot path of a bulk load
        return s.upper()
    s = _repair_mojibake(s).translate(_NON_DECOMPOSING)
    return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii").upper()


def tidy(value: str) -> str | None:
    """Upper ASCII text with punctuation turned into single spaces; None when nothing is left."""
    return SPACES.sub(" ", NOT_ALNUM_SPACE.sub(" ", value)).strip() or None
