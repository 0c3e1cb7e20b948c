"""Hook implementations of the Salesforce plugin (the ``tether.plugins`` entry point)."""
