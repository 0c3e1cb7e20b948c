"""File drop set-up: a drop folder on the test clock and tenants reading it."""

from __future__ import annotations

from typing import Any

import pytest

from tether.core.connectors import ReadRequest
from tether.plugins.filedrop.config import FileDropSettings
from tether.plugins.filedrop.connector import FileDropConnector

from .drop import DropFolder


@pytest.fixture
def drop(tmp_path, tether_clock) -> DropFolder:
    return DropFolder(tmp_path / "drop", tether_clock)


@pytest.fixture
def open_drop(drop):
    """``open_drop(**config)`` → a connector over ``drop`` (settle 30 s unless given)."""

    def make(**config: Any) -> FileDropConnector:
        return FileDropConnector(FileDropSettings.from_config({"location": drop.url, "settle_seconds": 30, **config}))

    return make


def read_all(connector: FileDropConnector, object_name: str, cursor: str | None = None, page_size: int = 100,
             fields: tuple[str, ...] | None = None):
    schema = connector.discover().get(object_name)
    request = ReadRequest(object_name, fields or tuple(f.name for f in schema.fields), cursor=cursor,
                          page_size=page_size)
    return list(connector.read(request))


def records(pages) -> list[dict[str, Any]]:
    return [r for p in pages for r in p.records]
