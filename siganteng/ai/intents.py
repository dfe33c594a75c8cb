"""Recognising what a customer wants before (or instead of) asking a model.

Shared by the chat layer (the handoff trigger) and the offline extractive provider
(which calls the built-in ``handoff_to_human`` tool on the same rule).
"""

from __future__ import annotations

import re

#: The built-in function a model calls to hand a conversation to a person.
HANDOFF_TOOL = "handoff_to_human"

# "mau bicara dengan admin/CS/orang", "talk to a human/agent", "minta CS", "hubungi admin"…
_PERSON = (
    r"(?:an?\s+|the\s+|your\s+)?(?:human|person|real\s+person|someone|somebody|agent|operator|staff|admin|cs|customer\s+service|"
    r"manusia|orang|petugas|manager)"
)
_REQUEST_PATTERNS = [
    re.compile(rf"\b(?:talk|speak|chat)\s+(?:to|with)\s+{_PERSON}\b", re.I),
    re.compile(rf"\b(?:connect|transfer|put)\s+me\s+(?:to|with|through\s+to)\s+{_PERSON}\b", re.I),
    re.compile(rf"\b(?:i\s+)?(?:want|need)\s+{_PERSON}\b", re.I),
    re.compile(r"\b(?:human|live)\s+(?:agent|support|please)\b", re.I),
    re.compile(
        rf"\b(?:mau|ingin|pengen|pingin|minta|tolong)\s+(?:\w+\s+){{0,2}}?(?:bicara|ngobrol|bincang|chat|ngomong|"
        rf"berbicara|disambungkan|sambungkan|hubungkan|dihubungkan|terhubung)\s+(?:\w+\s+)?(?:dengan|sama|ke|ama)\s+"
        rf"{_PERSON}\b",
        re.I,
    ),
    re.compile(
        rf"\b(?:sambungkan|hubungkan|sambungin|hubungin|disambungkan|dihubungkan|oper|alihkan)\s+(?:saya\s+|aku\s+)?"
        rf"(?:ke|dengan|sama)\s+{_PERSON}\b",
        re.I,
    ),
    re.compile(rf"\b(?:minta|panggil|panggilkan|hubungi|butuh)\s+(?:{_PERSON})\b", re.I),
    re.compile(r"\b(?:admin|cs|orang)\s+(?:asli|beneran|dong|aja)\b", re.I),
]


def asks_for_person(text: str) -> bool:
    """Whether ``text`` asks for a person, in Indonesian or English."""
    return any(p.search(text) for p in _REQUEST_PATTERNS)
