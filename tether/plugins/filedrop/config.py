"""The file drop plugin's settings, checked with the path of every mistake."""

from __future__ import annotations

import codecs
import dataclasses
from typing import Any, Mapping

from tether.core.errors import PermanentConnectorError

PLUGIN = "filedrop"
AGGREGATES = ("latest", "sum", "average", "max", "min")
# Usage rows are one value per account, metric and day: a re-delivered day replaces the last.
DEFAULT_KEYS: dict[str, tuple[str, ...]] = {"usage": ("account", "metric", "date")}


@dataclasses.dataclass(frozen=True)
class MeasureSpec:
    metric: str
    label: str
    aggregate: str = "latest"
    window_days: int = 30
    higher_is_better: bool = True

    @property
    def key(self) -> str:
        return f"usage:{self.metric}" if self.aggregate == "latest" else f"usage:{self.metric}:{self.aggregate}"


@dataclasses.dataclass(frozen=True)
class FileDropSettings:
    location: str
    settle_seconds: int = 60
    keys: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=lambda: dict(DEFAULT_KEYS))
    usage_object: str = "usage"
    events_object: str = "events"
    company_match: str = "external_id"
    company_source: str | None = None
    measures: tuple[MeasureSpec, ...] = ()
    delimiter: str = ","
    encoding: str = "utf-8"
    import_every_seconds: int = 900

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, where: str = "plugins.filedrop.config") -> "FileDropSettings":
        errors = problems(config)
        if errors:
            raise PermanentConnectorError(f"{where}: " + "; ".join(errors),
                                          hint="fix the filedrop config in the tenant manifest and apply it again")
        keys = dict(DEFAULT_KEYS)
        keys.update({name: tuple(columns) for name, columns in (config.get("keys") or {}).items()})
        return cls(
            location=str(config["location"]),
            settle_seconds=int(config.get("settle_seconds", 60) if config.get("settle_seconds") is not None else 60),
            keys=keys,
            usage_object=config.get("usage_object") or "usage",
            events_object=config.get("events_object") or "events",
            company_match=config.get("company_match") or "external_id",
            company_source=config.get("company_source") or None,
            measures=tuple(_measure(m) for m in config.get("measures") or ()),
            delimiter=config.get("csv_delimiter") or ",",
            encoding=config.get("encoding") or "utf-8",
            import_every_seconds=int(config.get("import_every_seconds") or 900),
        )


def _measure(raw: Mapping[str, Any]) -> MeasureSpec:
    metric = str(raw["metric"])
    return MeasureSpec(metric=metric, label=str(raw.get("label") or metric.replace("_", " ").capitalize()),
                       aggregate=str(raw.get("aggregate") or "latest"), window_days=int(raw.get("window_days") or 30),
                       higher_is_better=bool(raw.get("higher_is_better", True)))


def problems(config: Mapping[str, Any]) -> list[str]:
    """Every mistake in a filedrop config, each as ``"path: what is wrong"``."""
    found: list[str] = []
    location = config.get("location")
    if not isinstance(location, str) or not location.strip():
        found.append("location: give the drop folder, a path or a file:// URL")
    elif "://" in location and not location.startswith("file://"):
        found.append(f"location: {location.split('://')[0]}:// is not supported; use a folder or a file:// URL")
    settle = config.get("settle_seconds")
    if settle is not None and (not isinstance(settle, int) or isinstance(settle, bool) or settle < 0):
        found.append("settle_seconds: must be a whole number of seconds, 0 or more")
    keys = config.get("keys")
    if keys is not None:
        if not isinstance(keys, Mapping):
            found.append("keys: must map object names to lists of key columns, e.g. {usage: [account, metric, date]}")
        else:
            for name, columns in keys.items():
                if not isinstance(columns, list) or not columns or not all(isinstance(c, str) and c for c in columns):
                    found.append(f"keys.{name}: must be a non-empty list of column names")
    for index, raw in enumerate(config.get("measures") or []):
        path = f"measures[{index}]"
        if not isinstance(raw, Mapping):
            found.append(f"{path}: must be a mapping such as {{metric: weekly_active_users}}")
            continue
        unknown = sorted(set(raw) - {"metric", "label", "aggregate", "window_days", "higher_is_better"})
        if unknown:
            found.append(f"{path}: unknown key(s) {', '.join(unknown)}")
        if not isinstance(raw.get("metric"), str) or not raw.get("metric"):
            found.append(f"{path}.metric: name the metric, as written in the usage files' metric column")
        if raw.get("aggregate", "latest") not in AGGREGATES:
            found.append(f"{path}.aggregate: {raw.get('aggregate')!r} is not one of {', '.join(AGGREGATES)}")
        window = raw.get("window_days", 30)
        if not isinstance(window, int) or isinstance(window, bool) or not 1 <= window <= 3660:
            found.append(f"{path}.window_days: must be a whole number of days from 1 to 3660")
    delimiter = config.get("csv_delimiter")
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
        found.append("csv_delimiter: must be one character, e.g. ',' or ';'")
    encoding = config.get("encoding")
    if encoding is not None:
        try:
            codecs.lookup(str(encoding))
        except LookupError:
            found.append(f"encoding: {encoding!r} is not a text encoding Python knows (e.g. utf-8, latin-1)")
    return found
