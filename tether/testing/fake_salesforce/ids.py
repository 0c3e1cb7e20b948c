"""Salesforce record ids: key prefixes, the 15→18 case-safe suffix and id generation.

A Salesforce id is a 3-character key prefix (the object type), a 2-character pod/instance
part and a 10-character base-62 counter.  The 18-character form appends three characters
that encode which of the first 15 characters are upper case, so the id survives
case-insensitive systems.
"""

from __future__ import annotations

import re
import threading
from typing import Iterator

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID_PATTERN = re.compile(r"^[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?$")

# Key prefixes of the standard objects the fake knows, plus the API artefacts it issues.
KEY_PREFIXES: dict[str, str] = {
    "Account": "001",
    "Contact": "003",
    "User": "005",
    "Opportunity": "006",
    "OpportunityHistory": "008",
    "RecordType": "012",
    "OpportunityStage": "01J",
    "Organization": "00D",
    "Profile": "00e",
    "Task": "00T",
    "Event": "00U",
    # artefacts, not sObjects
    "WorkflowOutboundMessage": "04k",
    "OutboundMessageNotification": "04l",
    "QueryLocator": "01g",
    "AsyncApexJob": "750",
    "Batch": "751",
    "BatchResult": "752",
    "ConnectedApplication": "0H4",
}


def _chunk_bits(chunk: str) -> int:
    bits = 0
    for position, char in enumerate(chunk):
        if "A" <= char <= "Z":
            bits |= 1 << position
    return bits


def checksum_suffix(id15: str) -> str:
    """The three characters Salesforce appends to a 15-character id."""
    return "".join(_SUFFIX_ALPHABET[_chunk_bits(id15[i:i + 5])] for i in (0, 5, 10))


def to18(record_id: str) -> str:
    """Canonical 18-character form of a 15- or 18-character id (18-character ids are re-derived)."""
    if len(record_id) == 18:
        record_id = record_id[:15]
    if len(record_id) != 15:
        raise ValueError(f"not a Salesforce id: {record_id!r}")
    return record_id + checksum_suffix(record_id)


def to15(record_id: str) -> str:
    """The case-sensitive 15-character form."""
    return record_id[:15]


def is_valid_id(value: object) -> bool:
    """True for a well-formed 15-character id or an 18-character id whose suffix matches."""
    if not isinstance(value, str) or not _ID_PATTERN.match(value):
        return False
    return len(value) == 15 or checksum_suffix(value[:15]) == value[15:]


def encode_base62(number: int, width: int) -> str:
    """Fixed-width base-62 digits in ASCII order, so string order equals numeric order."""
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        digits.append(BASE62[remainder])
    if number:
        raise OverflowError("counter exceeds id width")
    return "".join(reversed(digits))


# Suffix bits of every 2-digit base-62 tail, so a run of sequential ids needs no per-id loop.
_PAIRS: list[tuple[str, int]] = [(a + b, _chunk_bits(a + b)) for a in BASE62 for b in BASE62]


class IdFactory:
    """Issues ids that look like one org's: a fixed pod, increasing counters per key prefix.

    Counters start at a value derived from ``seed`` so two orgs rarely share ids, and ids
    from one prefix sort in creation order (as PK chunking assumes).
    """

    def __init__(self, pod: str = "8d", seed: int = 0) -> None:
        if len(pod) != 2:
            raise ValueError("pod must be two characters")
        self.pod = pod
        self._start = 62 ** 4 * (1 + seed % 500)
        self._counters: dict[str, int] = {}
        self._lock = threading.Lock()

    def _reserve(self, prefix: str, count: int) -> int:
        with self._lock:
            first = self._counters.get(prefix, self._start)
            self._counters[prefix] = first + count
            return first

    def next_id(self, prefix: str) -> str:
        """One new 18-character id with this key prefix."""
        return to18(prefix + self.pod + encode_base62(self._reserve(prefix, 1), 10))

    def next_ids(self, prefix: str, count: int) -> list[str]:
        """``count`` sequential 18-character ids; fast enough for millions."""
        return list(self._iter_ids(prefix, self._reserve(prefix, count), count))

    def _iter_ids(self, prefix: str, first: int, count: int) -> Iterator[str]:
        head = prefix + self.pod
        head_suffix = _SUFFIX_ALPHABET[_chunk_bits(head)]
        number = first
        remaining = count
        while remaining:
            high, low = divmod(number, 3844)
            high_digits = encode_base62(high, 8)
            middle = high_digits[:5]
            middle_suffix = _SUFFIX_ALPHABET[_chunk_bits(middle)]
            tail_head = high_digits[5:]
            tail_bits = _chunk_bits(tail_head)
            stop = min(3844, low + remaining)
            base = head + middle + tail_head
            for pair, pair_bits in _PAIRS[low:stop]:
                yield base + pair + head_suffix + middle_suffix + _SUFFIX_ALPHABET[tail_bits | pair_bits << 3]
            taken = stop - low
            remaining -= taken
            number += taken
