"""The Salesforce plugin: connector, mapping, Outbound Message receiver."""
