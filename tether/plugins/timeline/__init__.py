"""The Timeline plugin: activities and feeds."""
