"""Hook implementations of the Timeline plugin (the ``tether.plugins`` entry point)."""
