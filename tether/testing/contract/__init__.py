"""The connector contract suite: one base class runs every check the sync engine relies on.

Subclass :class:`ConnectorContract` in your tests, give it a ``source`` fixture and the
harness methods (see docs/write-a-connector.md); each check in :data:`CHECKS` runs as one
test. The checks are plain functions of a :class:`Subject` too, for use outside classes.
"""

from .registry import CHECKS, Check, NotApplicable
from .subject import ConnectorHarness, ContractViolation, FaultKind, NotProvided, ReadResult, Subject
from .suite import ConnectorContract

__all__ = ["CHECKS", "Check", "ConnectorContract", "ConnectorHarness", "ContractViolation", "FaultKind",
           "NotApplicable", "NotProvided", "ReadResult", "Subject"]
