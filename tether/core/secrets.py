"""Secret references in manifests: ``{"$env": "NAME"}`` or ``{"$file": "/path"}``.

Manifests and the database hold only references; values are read when a plugin asks for
them, and never logged, stored or returned by the API.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from .errors import SecretError

REFERENCE_KEYS = ("$env", "$file")
MASK = "••••••"


def is_reference(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and len(value) == 1
        and next(iter(value)) in REFERENCE_KEYS
        and isinstance(next(iter(value.values())), str)
    )


def absolutise(value: Mapping[str, str], base_dir: Path | None) -> dict[str, str]:
    """Make a ``$file`` reference absolute against the manifest's folder."""
    if "$file" in value and base_dir is not None:
        path = Path(value["$file"]).expanduser()
        if not path.is_absolute():
            return {"$file": str((base_dir / path).resolve())}
    return dict(value)


def resolve(value: Any, *, where: str, environ: Mapping[str, str] | None = None) -> Any:
    """The secret's value for a reference; other values pass through unchanged."""
    if not is_reference(value):
        return value
    env = os.environ if environ is None else environ
    if "$env" in value:
        name = value["$env"]
        secret = env.get(name)
        if not secret:
            raise SecretError(
                f"{where}: environment variable {name} is not set",
                hint=f"export {name} in the environment of the tether process",
            )
        return secret
    path = Path(value["$file"])
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SecretError(
            f"{where}: cannot read secret file {path}: {exc.strerror}",
            hint="check the path and that the tether process may read it",
        ) from exc


def resolve_all(config: Mapping[str, Any], *, where: str, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {key: resolve(value, where=f"{where}.{key}", environ=environ) for key, value in config.items()}


def masked(config: Mapping[str, Any], secret_keys: set[str]) -> dict[str, Any]:
    """A config fit to show: references stay (they say where, not what), literals of
    secret fields are masked."""
    shown = {}
    for key, value in config.items():
        if key in secret_keys and not is_reference(value):
            shown[key] = MASK
        else:
            shown[key] = value
    return shown
