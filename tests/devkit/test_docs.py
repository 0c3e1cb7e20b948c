"""The developer docs stay true: every manifest key is documented (and no other), the
examples validate, the contract checks are all listed, and the docs' links resolve."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from marshmallow import Schema, fields

from tether.core import manifests
from tether.testing.contract import CHECKS

DOCS = Path(__file__).resolve().parents[2] / "docs"
ROW = re.compile(r"^\| `([^`]+)` \|", re.M)
LINK = re.compile(r"\]\(([^)#\s]+\.md)(#[^)]*)?\)")


def schema_paths(schema: Schema | type, prefix: str = "") -> list[str]:
    """Every key path of a marshmallow schema: ``a``, ``a.b``, ``a[].b``, ``a.<name>.b``."""
    instance = schema() if isinstance(schema, type) else schema
    paths = []
    for name, field in instance.fields.items():
        path = prefix + (field.data_key or name)
        paths.append(path)
        paths += _inner(field, path)
    return paths


def _inner(field: fields.Field, path: str) -> list[str]:
    if isinstance(field, fields.Nested):
        return schema_paths(field.schema, path + ".")
    if isinstance(field, fields.List) and isinstance(field.inner, fields.Nested):
        return schema_paths(field.inner.schema, path + "[].")
    if isinstance(field, fields.Dict) and isinstance(field.value_field, fields.Nested):
        return schema_paths(field.value_field.schema, path + ".<name>.")
    return []


def documented(section: str) -> set[str]:
    text = (DOCS / "manifests.md").read_text()
    start = text.index(f"## {section}")
    end = text.find("\n## ", start + 1)
    return set(ROW.findall(text[start:end if end != -1 else None]))


@pytest.mark.parametrize(("section", "schema"), [("Plugin manifest", manifests.PluginManifestSchema),
                                                 ("Tenant manifest", manifests.TenantManifestSchema)])
def test_every_manifest_key_is_documented_and_no_other(section, schema):
    keys = set(schema_paths(schema))
    docs = documented(section)
    assert not keys - docs, f"docs/manifests.md ({section}) lacks {sorted(keys - docs)}"
    assert not docs - keys, f"docs/manifests.md ({section}) documents keys the schema lacks: {sorted(docs - keys)}"


def test_the_key_walk_sees_nested_keys():
    paths = schema_paths(manifests.TenantManifestSchema)
    assert "mappings[].fields[].direction" in paths and "tenant.id" in paths
    assert "config.<name>.secret" in schema_paths(manifests.PluginManifestSchema)


def _yaml_blocks(name: str) -> list:
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", (DOCS / name).read_text(), re.S)]


def test_the_manifest_examples_validate(plugin_host):
    plugin_example, tenant_example = _yaml_blocks("manifests.md")[:2]
    assert manifests.parse_plugin_manifest(plugin_example, source="docs").name == "acme_crm"
    validated = manifests.validate_tenant_manifest(tenant_example, plugin_host, source="docs/manifests.md")
    assert validated.enabled_plugins == ("salesforce", "filedrop")


def test_the_tutorial_lists_every_contract_check():
    text = (DOCS / "write-a-connector.md").read_text()
    missing = [name for name in CHECKS if f"`test_{name}`" not in text]
    assert not missing, f"docs/write-a-connector.md does not list {missing}"


@pytest.mark.parametrize("page", ["index.md", "write-a-connector.md", "sync-model.md", "manifests.md", "filedrop.md"])
def test_links_between_docs_resolve(page):
    broken = [target for target, _ in LINK.findall((DOCS / page).read_text()) if not (DOCS / target).is_file()]
    assert not broken, f"docs/{page} links to missing {broken}"


def test_the_index_links_every_page():
    linked = {target for target, _ in LINK.findall((DOCS / "index.md").read_text())}
    for page in ("write-a-connector.md", "sync-model.md", "manifests.md", "hooks.md", "filedrop.md"):
        assert page in linked
