"""docs/hooks.md must document every hook with the signature in hookspecs.py."""

import re
from pathlib import Path

import pytest

from tether.core import hookdocs

DOCS = Path(__file__).resolve().parents[2] / "docs" / "hooks.md"
SECTION = re.compile(r"^## (tether_\w+)\n(.*?)(?=^## |\Z)", re.S | re.M)
SIGNATURE = re.compile(r"```python\n(def .*?)\n```", re.S)


def documented() -> dict[str, str]:
    sections = {}
    for name, body in SECTION.findall(DOCS.read_text(encoding="utf-8")):
        match = SIGNATURE.search(body)
        sections[name] = match.group(1).strip() if match else ""
    return sections


@pytest.mark.parametrize("hook", hookdocs.hook_names())
def test_every_hook_is_documented_with_its_signature(hook):
    docs = documented()
    assert hook in docs, f"{hook} is missing from docs/hooks.md (regenerate: python -m tether.core.hookdocs > docs/hooks.md)"
    assert docs[hook] == hookdocs.signature_line(hook), f"docs/hooks.md documents {hook} with another signature"


def test_docs_name_no_hook_that_does_not_exist():
    assert set(documented()) <= set(hookdocs.hook_names())


def test_every_hook_spec_has_a_docstring_saying_what_it_returns():
    from tether.core import hookspecs

    for hook in hookdocs.hook_names():
        doc = getattr(hookspecs, hook).__doc__ or ""
        assert "Called" in doc and ":return:" in doc, f"{hook} docstring must say when it is called and what it returns"
