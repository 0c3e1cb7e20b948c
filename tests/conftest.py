"""Shared test set-up. tether's own fixtures come from tether.testing.pytest_plugin
(registered through the pytest11 entry point, as for any plugin author)."""

import logging

import pytest


@pytest.fixture(autouse=True)
def _quiet_alembic():
    logging.getLogger("alembic").setLevel(logging.WARNING)
