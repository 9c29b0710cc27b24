"""Names on the wire (2.018 NAM, 2.019 AKA), and plain ASCII for the other text fields.

Policy. EBTS names are ``SURNAME,GIVEN MIDDLE`` in capital letters A-Z with hyphen, comma and
space as the only other characters, and the transaction carries no 1.015 DCS, so every text
field is 7-bit ASCII (nistitl could carry Latin-1, but the receiver is promised ASCII). A booking
holds each name exactly as it is sent; ``romanise_name`` turns what the officer typed into that
form, and the kiosk shows the result before submission:

1. letters with no Unicode decomposition via a small table (Ł->L, Ø->O, ß->SS, Æ->AE, Œ->OE,
   Đ/Ð->D, Þ->TH, Ħ->H, ı->I, Ŋ->NG, ...);
2. NFKD, dropping the combining marks (É->E, Ñ->N, ligature ﬁ->FI, fullwidth letters -> ASCII);
3. uppercase; apostrophes and full stops dropped (O'BRIEN -> OBRIEN, ST. JOHN -> ST JOHN);
4. whitespace collapsed to single spaces, none around the comma or a hyphen.

A name in another script (Cyrillic, Greek, Arabic, CJK ...) is never transliterated by guesswork:
there are several romanisation systems and the legal spelling is on the subject's documents. It
is a validation problem asking for the romanised name as written in the passport or ID.
Validation refuses any name not already in the sent form and quotes the romanised form as the fix.
"""

from __future__ import annotations

import re
import unicodedata

from sync.transaction.errors import brief

_NO_DECOMPOSITION = str.maketrans(
    {
        "Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "ß": "ss", "ẞ": "SS", "Æ": "AE", "æ": "ae",
        "Œ": "OE", "œ": "oe", "Đ": "D", "đ": "d", "Ð": "D", "ð": "d", "Þ": "TH", "þ": "th",
        "Ħ": "H", "ħ": "h", "ı": "i", "Ŀ": "L", "ŀ": "l", "Ŋ": "NG", "ŋ": "ng", "ĸ": "k",
        "Ŧ": "T", "ŧ": "t",
    }
)  # fmt: skip
_DROPPED_FROM_NAMES = str.maketrans("", "", "'’‘ʼ`.")
_NAME = re.compile(r"[A-Z]+(?:[ -][A-Z]+)*,[A-Z]+(?:[ -][A-Z]+)*")
_NAME_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ ,-")


def to_ascii(text: str) -> str:
    """``text`` with Latin letters stripped of diacritics (steps 1-2 above); other characters kept."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_NO_DECOMPOSITION))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def romanise_name(text: str) -> str:
    """The form in which a name is sent, e.g. ``"Łukasz , Żółć-Nowak"`` -> ``"LUKASZ,ZOLC-NOWAK"``.

    Characters that have no A-Z form (other scripts, digits, symbols) are kept, so that
    ``name_problems`` can name them.
    """
    upper = to_ascii(text).upper().translate(_DROPPED_FROM_NAMES)
    collapsed = " ".join(upper.split())
    return re.sub(r" ?([,-]) ?", r"\1", collapsed)


def name_problems(name: object, max_length: int) -> list[str]:
    """Everything wrong with ``name`` as a NAM/AKA value, as messages for the officer."""
    if not isinstance(name, str) or not name.strip():
        return ["the name is missing; enter SURNAME,GIVEN NAMES (DOE,JOHN if unknown)"]
    sent = romanise_name(name)
    foreign = sorted({c for c in sent if c not in _NAME_CHARACTERS})
    letters = [c for c in foreign if unicodedata.category(c).startswith("L")]
    if letters:
        return [
            f"{brief(name)} has letters that cannot be written with A-Z ({_quote(letters)}); enter the "
            "name romanised exactly as on the subject's passport or ID"
        ]
    if foreign:
        return [
            f"{brief(name)} contains {_quote(foreign)}; names may hold only letters A-Z, hyphens, "
            "spaces and one comma"
        ]
    problems = []
    if sent != name:
        problems.append(f"{brief(name)} must be sent as {brief(sent)} (capital letters A-Z, no accents)")
    if not _NAME.fullmatch(sent):
        problems.append(_shape_problem(sent))
    if len(sent) > max_length:
        problems.append(f"{brief(sent)} is {len(sent)} characters long; at most {max_length} are allowed")
    return problems


def _shape_problem(sent: str) -> str:
    commas = sent.count(",")
    if commas == 0:
        return f"{brief(sent)} needs a comma after the surname: SURNAME,GIVEN NAMES (e.g. DOE,JOHN)"
    if commas > 1:
        return f"{brief(sent)} has {commas} commas; use exactly one, after the surname"
    return (
        f"{brief(sent)} must have a surname and a given name, each starting and ending with a letter, "
        "with single spaces or hyphens inside (e.g. SMITH-JONES,MARY ANN)"
    )


def _quote(characters: list[str], limit: int = 8) -> str:
    shown = ", ".join(f"'{c}'" if c.isprintable() else f"U+{ord(c):04X}" for c in characters[:limit])
    return shown + (f" and {len(characters) - limit} more" if len(characters) > limit else "")
