"""Shared set-up for Renewal Center tests."""

from __future__ import annotations

import pytest

from .book import build_book


@pytest.fixture
def book(make_tenant):
    """The Q1 2025 book (see ``book.build_book``) in tenant acme."""
    return build_book(make_tenant("acme"))
