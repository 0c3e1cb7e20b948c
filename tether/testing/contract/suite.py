"""The contract suite as a pytest base class: subclass it once per connector.

.. code-block:: python

    class TestAcmeConnector(ConnectorContract):
        plugin = connector = "acme"
        object_name = "Customer"

        @pytest.fixture
        def source(self):
            ...                                  # a fresh source the connector can reach

        def plugin_config(self, source): ...     # the tenant's config pointing at it
        def add_records(self, source, count): ...
        def change_records(self, source, ids): ...
        def fault(self, source, kind): ...

Every check in :data:`~tether.testing.contract.registry.CHECKS` becomes one test method
``test_<check>``; a check that does not apply (writes on a read-only object) is skipped
with the reason. Set ``test_<check> = None`` in the subclass to leave one out on purpose.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

from tether.core.plugins import PluginHost

from . import checks_read, checks_write  # noqa: F401 - registers the checks
from .registry import CHECKS, Check, NotApplicable
from .subject import ConnectorHarness, Subject


class ConnectorContract(ConnectorHarness):
    """Base class of a connector's contract tests (see the module docstring)."""

    @pytest.fixture
    def source(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define a `source` fixture giving a fresh source")

    @pytest.fixture
    def contract(self, request: pytest.FixtureRequest, source: Any) -> Iterator[Subject]:
        subject = Subject(self, source, host_factory=lambda: self._host(request))
        yield subject
        subject.close_all()

    def _host(self, request: pytest.FixtureRequest) -> PluginHost:
        if self.plugin_object is None:
            return request.getfixturevalue("plugin_host")
        host = PluginHost.from_entry_points()
        host.register(self.plugin_object)
        return host


def _test_for(entry: Check) -> Callable[[ConnectorContract, Subject], None]:
    def test(self: ConnectorContract, contract: Subject) -> None:
        try:
            entry.run(contract)
        except NotApplicable as reason:
            pytest.skip(str(reason))

    test.__name__ = f"test_{entry.name}"
    test.__doc__ = entry.title
    return test


for _entry in CHECKS.values():
    setattr(ConnectorContract, f"test_{_entry.name}", _test_for(_entry))
del _entry
