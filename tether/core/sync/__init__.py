"""The connector-agnostic sync engine: mappings, inbound runs, cursors, the outbox.

Public entry points:

- :func:`tether.core.sync.outbox.capture_local_change`: record a local edit for pushing.
- :func:`tether.core.sync.engine.sync_tenant` / :func:`~tether.core.sync.engine.sync_object`:
  run an inbound sync.
"""
