"""tether: a self-hosted customer-success data platform built as a pluggy plugin framework."""

__version__ = "0.1.0"
