"""The list of contract checks, in the order the suite runs them.

Each check is a function ``check(subject)`` that returns quietly when the connector keeps
the rule and raises :class:`~tether.testing.contract.subject.ContractViolation` (naming the
rule, the record or page, and what was seen) when it does not. A check that does not
apply to the connector (a write check on a read-only object) raises :class:`NotApplicable`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from .subject import Subject


class NotApplicable(Exception):
    """The check does not apply to this connector; the message says why."""


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    title: str
    run: Callable[["Subject"], None]


CHECKS: dict[str, Check] = {}


def check(title: str) -> Callable[[Callable[["Subject"], None]], Callable[["Subject"], None]]:
    """Register a check function under its own name, with a one-line ``title`` for docs and reports."""

    def register(function: Callable[["Subject"], None]) -> Callable[["Subject"], None]:
        if function.__name__ in CHECKS:
            raise ValueError(f"a contract check named {function.__name__!r} is already registered")
        CHECKS[function.__name__] = Check(function.__name__, title, function)
        return function

    return register
