"""The file drop plugin: product-usage data from CSV or Parquet files in a folder.

A second connector, written only against tether's public hooks, that proves the engine is
not Salesforce-shaped. Each sub-folder of the drop is an object (``usage/``, ``events/``,
``accounts/`` ...); the connector reads new files in arrival order with resumable cursors.
Usage rows become health measures Scorecards can weigh, events become timeline entries,
and any object can be mapped to tether entities and synced by the engine. See
docs/filedrop.md.
"""
