"""UK postcodes: an outward code (A9, A99, A9A, AA9, AA99, AA9A) whose letters are one of the 124 postcode areas,
an optional space, and an inward code (9AA, without C, I, K, M, O or V). Checking the area is what keeps room
numbers, product codes and seat numbers of the same shape out."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

from phonegate.core.chat.detectors.context import labelled_as_something_else
from phonegate.core.chat.detectors.hit import Hit

KIND = "postcode"
_CANDIDATE = re.compile(r"\b([A-Z]{1,2})\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2}\b", re.IGNORECASE)
_AREAS = frozenset("""
AB AL B BA BB BD BF BH BL BN BR BS BT BX CA CB CF CH CM CO CR CT CV CW DA DD DE DG DH DL DN DT DY E EC EH EN EX FK FY
G GL GU GY HA HD HG HP HR HS HU HX IG IM IP IV JE KA KT KW KY L LA LD LE LL LN LS LU M ME MK ML N NE NG NN NP NR NW OL
OX PA PE PH PL PO PR RG RH RM S SA SE SG SK SL SM SN SO SP SR SS ST SW SY TA TD TF TN TQ TR TS TW UB W WA WC WD WF WN
WR WS WV YO ZE
""".split())


def find(text: str, sent_at: datetime, day_first: bool) -> Iterator[Hit]:
    for match in _CANDIDATE.finditer(text):
        if match.group(1).upper() not in _AREAS:
            continue
        if labelled_as_something_else(text, match.start()):
            continue
        yield Hit(KIND, *match.span())
