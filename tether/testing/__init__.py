"""tether's test kit: a fake Salesforce org, test databases and pytest fixtures.

Connector and plugin authors get the fixtures automatically once tether is installed
(the ``pytest11`` entry point registers :mod:`tether.testing.pytest_plugin`).
"""
