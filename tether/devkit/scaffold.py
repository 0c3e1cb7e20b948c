"""Scaffolding a plugin package from the templates shipped in ``tether/devkit/templates``.

A template is a file ending in ``.tmpl`` whose ``{{name}}`` tokens are replaced by the
package's names; a path part ``__package__`` becomes the Python package. A token the
renderer does not know is an error (a typo in a template never ships as text).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from tether import __version__
from tether.core.errors import ScaffoldError

KINDS = ("connector", "domain")
TEMPLATES = Path(__file__).resolve().parent / "templates"
TOKEN = re.compile(r"\{\{(\w+)\}\}")
NAME = re.compile(r"^[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*$")
MAX_NAME = 40


def tether_requirement(version: str = __version__) -> str:
    """The range of tether a new plugin supports: this minor version up to the next major."""
    major, minor = (int(part) for part in version.split(".")[:2])
    return f">={major}.{minor},<{major + 1}"


@dataclasses.dataclass(frozen=True)
class Names:
    """Every name a new plugin package needs, derived from the one the user gave."""

    plugin: str  # manifest name, connector name and entry point: acme_crm
    package: str  # Python package: tether_acme_crm
    distribution: str  # pip name and folder: tether-acme-crm
    class_prefix: str  # AcmeCrm
    title: str  # Acme Crm
    env_prefix: str  # ACME_CRM
    tether_requirement: str

    @classmethod
    def from_name(cls, name: str) -> "Names":
        raw = name.strip().lower()
        for prefix in ("tether-", "tether_"):
            if raw.startswith(prefix):
                raw = raw[len(prefix):]
        if not NAME.match(raw) or len(raw) > MAX_NAME:
            raise ScaffoldError(
                f"{name!r} is not a plugin name: use lower-case letters and digits, words joined by '-' or '_', "
                f"starting with a letter, at most {MAX_NAME} characters", hint="for example: acme-crm")
        words = re.split(r"[_-]", raw)
        plugin = "_".join(words)
        return cls(plugin=plugin, package=f"tether_{plugin}", distribution="tether-" + "-".join(words),
                   class_prefix="".join(w.capitalize() for w in words), title=" ".join(w.capitalize() for w in words),
                   env_prefix=plugin.upper(), tether_requirement=tether_requirement())

    def values(self) -> dict[str, str]:
        return dataclasses.asdict(self)


def render(text: str, values: dict[str, str], *, source: str = "template") -> str:
    """Replace every ``{{token}}``; an unknown token is an error naming the template."""

    def replace(match: re.Match[str]) -> str:
        try:
            return values[match.group(1)]
        except KeyError:
            raise ScaffoldError(f"{source}: unknown placeholder {{{{{match.group(1)}}}}}",
                                hint=f"known: {', '.join(sorted(values))}") from None

    return TOKEN.sub(replace, text)


def template_files(kind: str) -> list[Path]:
    """The kind's template files, relative to its folder, in a stable order."""
    if kind not in KINDS:
        raise ScaffoldError(f"unknown plugin kind {kind!r}", hint=f"use one of {', '.join(KINDS)}")
    root = TEMPLATES / kind
    return sorted(p.relative_to(root) for p in root.rglob("*.tmpl") if p.is_file())


def create_plugin(name: str, kind: str = "connector", directory: Path | None = None,
                  installed: tuple[str, ...] = ()) -> Path:
    """Write a new plugin package into ``directory/<distribution>`` and return that folder.

    ``installed`` are plugin names already in use here: a new plugin may not take one.
    """
    names = Names.from_name(name)
    if names.plugin in installed:
        raise ScaffoldError(f"a plugin named {names.plugin!r} is already installed",
                            hint="choose another name; two plugins cannot share one")
    files = template_files(kind)
    target = (directory or Path.cwd()) / names.distribution
    if target.exists() and any(target.iterdir()):
        raise ScaffoldError(f"{target} already exists and is not empty",
                            hint="choose another --directory, or remove the folder")
    values = names.values()
    rendered = {}
    for relative in files:
        parts = [names.package if part == "__package__" else part for part in relative.parts]
        parts[-1] = parts[-1][: -len(".tmpl")]
        source = TEMPLATES / kind / relative
        rendered[Path(*parts)] = render(source.read_text(encoding="utf-8"), values, source=f"{kind}/{relative}")
    for path, text in rendered.items():
        destination = target / path
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(text, encoding="utf-8")
    return target
