"""Scoring schemes: numeric, grade or colour, each 2–12 ranges over 0–100.

A range covers ``(previous to, to]``, the first one ``[0, to]``: with ranges up to 50,
75 and 100, a 50 is Red, 50.5 Yellow, 75 Yellow and 76 Green (Gainsight's rule that
"From" is excluded except for the first range).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import numpy as np
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

SCHEME_TYPES = ("numeric", "grade", "colour")
MIN_RANGES, MAX_RANGES = 2, 12

DEFAULT_SCHEME = {
    "type": "colour",
    "ranges": [
        {"to": 50, "label": "Red", "color": "#d9534f"},
        {"to": 75, "label": "Yellow", "color": "#f0ad4e"},
        {"to": 100, "label": "Green", "color": "#5cb85c"},
    ],
}


class RangeSchema(Schema):
    to = fields.Float(required=True, validate=validate.Range(0, 100))
    label = fields.String(required=True, validate=validate.Length(min=1, max=40))
    color = fields.String(load_default=None, allow_none=True,
                          validate=validate.Regexp(r"^#[0-9a-fA-F]{6}$", error="must be a colour such as #5cb85c"))


class SchemeSchema(Schema):
    type = fields.String(load_default="colour", validate=validate.OneOf(SCHEME_TYPES))
    ranges = fields.List(fields.Nested(RangeSchema), required=True, validate=validate.Length(
        min=MIN_RANGES, max=MAX_RANGES, error=f"a scheme has {MIN_RANGES} to {MAX_RANGES} ranges"))

    @validates_schema
    def _ascending_to_100(self, data, **kwargs):
        tops = [r["to"] for r in data.get("ranges", [])]
        if any(b <= a for a, b in zip(tops, tops[1:])):
            raise ValidationError("ranges must go up: each 'to' above the one before", "ranges")
        if tops and tops[-1] != 100:
            raise ValidationError("the last range must end at 100", "ranges")
        labels = [r["label"].lower() for r in data.get("ranges", [])]
        if len(set(labels)) != len(labels):
            raise ValidationError("range labels must differ", "ranges")


@dataclasses.dataclass(frozen=True)
class Scheme:
    type: str
    tops: np.ndarray
    labels: tuple[str, ...]
    colors: tuple[str | None, ...]

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> "Scheme":
        config = config or DEFAULT_SCHEME
        ranges = config["ranges"]
        return cls(config.get("type", "colour"), np.array([float(r["to"]) for r in ranges]),
                   tuple(r["label"] for r in ranges), tuple(r.get("color") for r in ranges))

    def range_index(self, scores: np.ndarray) -> np.ndarray:
        """Index of each score's range; -1 where the score is N/A (NaN)."""
        index = np.searchsorted(self.tops, np.clip(scores, 0, 100), side="left")
        return np.where(np.isnan(scores), -1, np.minimum(index, len(self.tops) - 1))

    def label_of(self, score: float | None) -> tuple[str | None, str | None]:
        if score is None or score != score:
            return None, None
        index = int(self.range_index(np.array([score]))[0])
        return self.labels[index], self.colors[index]

    def labels_for(self, index: np.ndarray) -> tuple[list[str | None], list[str | None]]:
        labels = np.array((*self.labels, None), dtype=object)
        colors = np.array((*self.colors, None), dtype=object)
        return labels[index].tolist(), colors[index].tolist()

    def score_of_label(self, label: str) -> float | None:
        """The top of a label's range (used to compare against a label)."""
        for top, name in zip(self.tops, self.labels):
            if name.lower() == label.lower():
                return float(top)
        return None


def label_rank(scheme: Scheme, labels: Sequence[str]) -> list[int]:
    return [next((i for i, name in enumerate(scheme.labels) if name.lower() == label.lower()), -1) for label in labels]
