"""Render the hook reference (``docs/hooks.md``) from ``hookspecs.py``.

``python -m tether.core.hookdocs > docs/hooks.md`` regenerates it; the test suite fails
when a hook is missing from the file or documented with another signature.
"""

from __future__ import annotations

import inspect
import sys

from . import hookspecs

HEADER = """# Hook reference

Every hook a tether plugin can implement. Mark implementations with
`tether.core.hookspecs.hookimpl` and list them in the plugin's `manifest.yaml` under
`hooks:`. Hooks that take `tenant` reach only the plugins that tenant enabled; the
others are process-wide. *Merged* hooks return every plugin's result in a list;
*first-result* hooks stop at the first plugin that returns something other than None.

This file is generated from `tether/core/hookspecs.py` by
`python -m tether.core.hookdocs > docs/hooks.md`; `tests/core/test_hook_docs.py`
fails when the two disagree.
"""


def hook_names() -> list[str]:
    return [name for name, obj in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("tether_")]


def signature_line(name: str) -> str:
    """``def name(arg: Type, ...) -> Return`` with annotations as written in the source."""
    signature = inspect.signature(getattr(hookspecs, name))
    params = ", ".join(f"{p.name}: {p.annotation}" for p in signature.parameters.values())
    return f"def {name}({params}) -> {signature.return_annotation}"


def is_first_result(name: str) -> bool:
    opts = getattr(getattr(hookspecs, name), f"{hookspecs.PROJECT}_spec", {})
    return bool(opts.get("firstresult"))


def render() -> str:
    source_order = sorted(hook_names(), key=lambda n: inspect.getsourcelines(getattr(hookspecs, n))[1])
    parts = [HEADER]
    for name in source_order:
        doc = inspect.cleandoc(getattr(hookspecs, name).__doc__ or "")
        kind = "first-result" if is_first_result(name) else "merged"
        scope = "per tenant" if "tenant" in inspect.signature(getattr(hookspecs, name)).parameters else "process-wide"
        parts.append(f"\n## {name}\n\n*{kind}, {scope}*\n\n```python\n{signature_line(name)}\n```\n\n{doc}\n")
    return "".join(parts)


if __name__ == "__main__":
    sys.stdout.write(render())
