"""Names as the matcher compares them: cleaned, placeholders dropped, suffixes found, nicknames and sounds.

Pure: no I/O, no logging. The nickname table is loaded once per process, on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from functools import lru_cache

import jellyfish
from nicknames import NickNamer

from mpi.records.hypocorisms import FORMAL_NAMES, SHORT_FORMS
from mpi.records.text import NAME_SEPARATORS, NOT_ALNUM_SPACE, SPACES, ascii_upper, text

_SUFFIXES = {
    "JR": "JR", "JUNIOR": "JR", "SR": "SR", "SENIOR": "SR",
    "II": "II", "2ND": "II", "2": "II", "III": "III", "3RD": "III", "3": "III",
    "IV": "IV", "4TH": "IV", "4": "IV", "V": "V", "5TH": "V", "5": "V",
}
# Tokens that, ending a surname, are a suffix. A bare V or digit is left alone there: a trailing
# initial or a typo is likelier than a fifth-generation name.
_SURNAME_SUFFIX_TOKENS = {"JR", "JUNIOR", "SR", "SENIOR", "II", "2ND", "III", "3RD", "IV", "4TH"}
_PLACEHOLDER_HEADS = {"BABY", "INFANT", "NEWBORN"}
_PLACEHOLDER_FIRST = {"BB", "BG", "BABYGIRL", "BABYBOY", "GIRL", "BOY", "UNKNOWN", "UNK", "FNU",
                      "LNU", "NFN"}
_PLACEHOLDER_LAST = {"UNKNOWN", "UNK", "FNU", "LNU", "NLN"}
_PLACEHOLDER_MIDDLE = {"NMN", "NMI", "NONE", "UNKNOWN", "UNK", "FNU", "LNU"}


@lru_cache(maxsize=200_000)
def _clean_name(raw: str) -> str | None:
    """Upper-case ASCII name with punctuation removed and separators collapsed to one space.

    Hyphens become spaces so ``Sánchez-Ramos`` and ``SANCHEZ RAMOS`` agree; apostrophes and dots are
    dropped so ``O'Brien`` and ``OBRIEN`` agree. A ``?`` standing for a lost accent (``P?REZ``) is
    dropped too: the letter is unrecoverable, and a one-letter gap still scores close on similarity.
    """
    s = NAME_SEPARATORS.sub(" ", ascii_upper(raw))
    return SPACES.sub(" ", NOT_ALNUM_SPACE.sub("", s)).strip() or None


def _is_placeholder_first(name: str) -> bool:
    """True for newborn and unknown-person stand-ins (``BABY GIRL A``, ``BABYGRIL``, ``FNU``).

    Any name opening with BABY, INFANT or NEWBORN counts, which also catches the typos made in
    them (``BABY BOYY``); a trailing birth-order letter (``BG A``) is ignored.
    """
    tokens = name.split()
    if tokens[0] in _PLACEHOLDER_HEADS or tokens[0].startswith("BABY"):
        return True
    while len(tokens) > 1 and len(tokens[-1]) == 1:
        tokens.pop()
    return " ".join(tokens) in _PLACEHOLDER_FIRST


def _is_multiple_birth(name: str) -> bool:
    """A newborn placeholder that says it is one of twins or more (``BABY BOY B``, ``BG A``, ``TWIN 2``)."""
    tokens = name.split()
    return "TWIN" in name or (len(tokens) > 1 and len(tokens[-1]) == 1 and tokens[-1] in "ABCDEF1234")


def _split_surname_suffix(last: str | None) -> tuple[str | None, str | None]:
    """Move a generational suffix typed into the surname (``SMITH JR``) out of it."""
    tokens = last.split() if last else []
    if len(tokens) >= 2 and tokens[-1] in _SURNAME_SUFFIX_TOKENS:
        return " ".join(tokens[:-1]), _SUFFIXES[tokens[-1]]
    return last, None


_nicknames: NickNamer | None = None
_nicknames_lock = threading.Lock()


def _nicknamer() -> NickNamer:
    """The nickname table, loaded once per process on first use rather than at import.

    Under a lock: ``lru_cache`` does not hold back a second caller while the first computes, so
    sixteen threads asking first names at once in a process that had read none (the first requests
    of a service just started) read the table 14-16 times, the slowest waiting 68-95 ms; now once, 7 ms.
    """
    global _nicknames
    table = _nicknames
    if table is None:
        with _nicknames_lock:
            if _nicknames is None:
                _nicknames = NickNamer()
            table = _nicknames
    return table


@lru_cache(maxsize=100_000)
def _canonical_first_name(token: str) -> str:
    """Pick one deterministic nickname-canonical form for a first-name token.

    The ``nicknames`` table is many-to-many and partly symmetric: ``bob`` has nicknames of its own
    and three canonicals, so "keep a name that has nicknames" would leave most short forms as they
    are. Instead the name and each of its canonicals compete on how many nicknames they carry, a
    proxy for being the formal root (BOB -> ROBERT, JIM -> JAMES, LIZ -> ELIZABETH). Ties keep the
    name itself, then go alphabetical, so the answer never depends on set order.
    """
    nn = _nicknamer()
    name = token.lower()
    candidates = [name, *nn.canonicals_of(name)]
    if len(candidates) == 1 and len(FORMAL_NAMES.get(token, ())) == 1:  # PANCHO -> FRANCISCO
        return FORMAL_NAMES[token][0]
    return min(candidates, key=lambda c: (-len(nn.nicknames_of(c)), c != name, c)).upper()


@lru_cache(maxsize=100_000)
def _first_name_roots(token: str) -> str:
    """The first-name token and the formal names it is a short form of, space-separated and sorted.

    ``KIM`` gives ``KIM KIMBERLEY KIMBERLY``, ``BETO`` (from the Spanish table,
    :mod:`mpi.records.hypocorisms`) ``ALBERTO BETO HUMBERTO ROBERTO``. The matcher takes two first names for one
    name when either token is among the other's roots: a *direct* nickname relation. Two
    names that only share a formal root (ALEXA and ALEXIS both shorten ALEXANDRA) are
    not related this way, because such pairs are as often twins as one person.
    """
    english = (c.upper() for c in _nicknamer().canonicals_of(token.lower()))
    return " ".join(sorted({token, *english, *FORMAL_NAMES.get(token, ())}))


@lru_cache(maxsize=200_000)
def names_are_nickname_related(a: str, b: str) -> bool:
    """Tell whether two first names are the same given name, one perhaps in nickname form.

    True when the names are equal, one is a nickname or canonical of the other (BOB/ROBERT), or they
    share a canonical (BOB/BILL both list ROBERT). Comparisons should prefer this to equality of
    ``first_name_canonical``, because one short form can belong to several formal names and the
    canonical has to pick one.

    Args:
        a: A normalised (upper-case) first name or first-name token.
        b: Another one.

    Returns:
        Whether the nickname table links them; False when either is empty.
    """
    a, b = a.strip().lower(), b.strip().lower()
    if not a or not b:
        return False
    if a == b or b.upper() in FORMAL_NAMES.get(a.upper(), ()) or a.upper() in FORMAL_NAMES.get(b.upper(), ()):
        return True
    nn = _nicknamer()
    canonicals_a = nn.canonicals_of(a)
    if b in canonicals_a or b in nn.nicknames_of(a):
        return True
    return bool(canonicals_a & nn.canonicals_of(b))


def _phonetic(name: str | None) -> str | None:
    """Metaphone code, so spelling variants (JAYDEN/JADEN, MEJIA/MEGIA) can still agree."""
    return (jellyfish.metaphone(name) or None) if name else None


def normalise_names(raw: Mapping[str, object], out: dict[str, object]) -> None:
    first = _clean_name(text(raw.get("first_name")))
    middle = _clean_name(text(raw.get("middle_name")))
    last, suffix_in_last = _split_surname_suffix(_clean_name(text(raw.get("last_name"))))
    suffix = _clean_name(text(raw.get("suffix")))
    out["multiple_birth"] = None
    if first is not None and _is_placeholder_first(first):
        out["multiple_birth"] = "Y" if _is_multiple_birth(first) else None
        first = None
    if last in _PLACEHOLDER_LAST:
        last = None
    if middle in _PLACEHOLDER_MIDDLE:
        middle = None
    first_token = first.split()[0] if first else None
    out["first_name"], out["middle_name"], out["last_name"] = first, middle, last
    # The suffix field as sent wins over one found in the surname; an unknown suffix (MD) is None.
    out["suffix"] = (_SUFFIXES.get(suffix.replace(" ", "")) if suffix else None) or suffix_in_last
    out["first_name_canonical"] = _canonical_first_name(first_token) if first_token else None
    out["first_name_roots"] = _first_name_roots(first_token) if first_token else None
    if first and " " in first:  # SU BIN and SUBIN, JI YEON and JIYEON: one name, written in one word or two
        out["first_name_roots"] = " ".join(sorted({*out["first_name_roots"].split(" "), first.replace(" ", "")}))
    out["first_name_phonetic"] = _phonetic(first_token)
    out["last_name_phonetic"] = _phonetic(last.replace(" ", "") if last else None)
    out["last_name_first_part"] = last.split()[0] if last else None
    out["middle_initial"] = middle[0] if middle else None


@lru_cache(maxsize=10_000)
def first_name_canonicals(name: str) -> frozenset[str]:
    """Every canonical first name a record of this given name, or of a nickname or formal form of it, is stored under.

    A search for BILL must find WILLIAM, stored under its own canonical (WILLIAM), though BILL's own
    canonical is ROBERT (the table lists both); and a search for WILLIAM must find BILL. So the
    canonicals of the name, of its formal forms and of its nicknames are all looked up; the
    search then keeps only the names :func:`names_are_nickname_related` relates.
    """
    token = _clean_name(text(name))
    if not token:
        return frozenset()
    token = token.split()[0]
    nn = _nicknamer()
    forms = {token.lower(), *nn.canonicals_of(token.lower()), *nn.nicknames_of(token.lower()),
             *(f.lower() for f in (*FORMAL_NAMES.get(token, ()), *SHORT_FORMS.get(token, ())))}
    return frozenset(_canonical_first_name(f.upper()) for f in forms)
