"""Booking types from rules over Type, RecordType and Stage (admin-configured, first match wins).

A rule names a ``booking_type`` and ``when``: field → accepted values. A field is looked
up first among the mapped tether fields (``opportunity_type``, ``stage``, ``record_type``,
``is_closed``...) and then in the raw Salesforce record (``Type``, ``StageName``,
``RecordTypeId``...), which holds the fields the mapping reads (map a field, e.g. to an
attribute, for a rule to see it). Values compare case-insensitively; booleans as
``true``/``false``.
``split_by_amount: true`` on a renewal rule turns it into renewal with upsell / with
downsell when the final amount (closed) or forecast amount (open), falling back to
``amount``, is above / below ``target_amount``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping, Sequence

from tether.core.contracts import BOOKING_TYPES

DEFAULT_RULES: tuple[Mapping[str, Any], ...] = (
    {"booking_type": "churn", "when": {"opportunity_type": ["Renewal"], "is_closed": [True], "is_won": [False]}},
    {"booking_type": "renewal", "when": {"opportunity_type": ["Renewal", "Existing Customer - Replacement"]},
     "split_by_amount": True},
    {"booking_type": "upsell", "when": {"opportunity_type": ["Existing Customer - Upgrade"]}},
    {"booking_type": "downsell", "when": {"opportunity_type": ["Existing Customer - Downgrade"]}},
    {"booking_type": "new_business", "when": {"opportunity_type": ["New Customer", "New Business"]}},
)


def rule_problems(rules: Sequence[Any]) -> list[str]:
    """Config errors, each ``booking_type_rules[i]...: what is wrong``."""
    problems = []
    for index, rule in enumerate(rules):
        where = f"booking_type_rules[{index}]"
        if not isinstance(rule, Mapping):
            problems.append(f"{where}: must be a mapping with booking_type and when")
            continue
        if rule.get("booking_type") not in BOOKING_TYPES:
            problems.append(f"{where}.booking_type: {rule.get('booking_type')!r} is not one of {', '.join(BOOKING_TYPES)}")
        when = rule.get("when")
        if not isinstance(when, Mapping) or not when:
            problems.append(f"{where}.when: must map at least one field to its accepted values")
        unknown = set(rule) - {"booking_type", "when", "split_by_amount"}
        if unknown:
            problems.append(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    return problems


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip().lower()


class BookingRules:
    def __init__(self, rules: Sequence[Mapping[str, Any]] | None) -> None:
        self.rules = [
            (rule["booking_type"],
             {field: {_text(v) for v in (values if isinstance(values, (list, tuple)) else [values])}
              for field, values in rule["when"].items()},
             bool(rule.get("split_by_amount")))
            for rule in (DEFAULT_RULES if rules is None else rules)
        ]

    def classify(self, records: Sequence[Mapping[str, Any]]) -> list[str | None]:
        fields = list(dict.fromkeys(field for _, conditions, _ in self.rules for field in conditions))
        texts: dict[Any, str] = {}  # the same few values (Type, flags) repeat on every page
        results: list[str | None] = []
        for record in records:
            source = record.get("_source") or {}
            values = {}
            for field in fields:
                value = _value(record, source, field)
                try:
                    text = texts.get(value)
                    if text is None:
                        text = texts[value] = _text(value)
                except TypeError:
                    text = _text(value)
                values[field] = text
            results.append(self._first_match(record, values))
        return results

    def _first_match(self, record: Mapping[str, Any], values: Mapping[str, str]) -> str | None:
        for booking_type, conditions, split in self.rules:
            for field, accepted in conditions.items():
                if values[field] not in accepted:
                    break
            else:
                return _split(record) if split and booking_type == "renewal" else booking_type
        return None


def _value(record: Mapping[str, Any], source: Mapping[str, Any], field: str) -> Any:
    value = record[field] if field in record else source.get(field)
    return "" if value is None else value


def _split(record: Mapping[str, Any]) -> str:
    target = record.get("target_amount")
    if target is None:
        return "renewal"
    closed = bool(record.get("is_closed"))
    actual = record.get("final_amount") if closed else record.get("forecast_amount")
    if actual is None:
        actual = record.get("amount")
    if actual is None:
        return "renewal"
    difference = Decimal(actual) - Decimal(target)
    if difference > 0:
        return "renewal_upsell"
    if difference < 0:
        return "renewal_downsell"
    return "renewal"
