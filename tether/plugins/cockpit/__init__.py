"""Cockpit: calls to action per company and relationship, playbooks and rules (a built-in plugin)."""
