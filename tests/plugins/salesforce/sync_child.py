"""A sync in its own process, for the kill -9 tests: prints one line per applied page.

Usage: python sync_child.py DATABASE_URL TENANT OBJECT PAGE_SIZE
"""

import sys

from tether.core.plugins import PluginHost
from tether.core.store import Store
from tether.core.sync.engine import SyncOptions, sync_object
from tether.core.tenants import load_context


def main() -> None:
    url, tenant_id, object_name, page_size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    host = PluginHost.from_entry_points()
    store = Store(url, migration_locations=host.migration_locations())
    tenant = load_context(store, host, tenant_id)

    def progress(event):
        print(f"page read={event.read} applied={event.applied}", flush=True)

    result = sync_object(tenant, "salesforce", object_name, options=SyncOptions(page_size=page_size, progress=progress))
    print(f"done {result.status} {result.error or ''}", flush=True)


if __name__ == "__main__":
    main()
