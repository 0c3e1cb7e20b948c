"""Hook implementations of the Scorecards plugin (the ``tether.plugins`` entry point)."""
