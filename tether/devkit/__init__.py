"""The developer kit: ``tether plugin new`` scaffolds a plugin package that installs with
pip and passes its own tests as generated (the contract suite for a connector)."""

from .scaffold import KINDS, Names, create_plugin, render

__all__ = ["KINDS", "Names", "create_plugin", "render"]
