"""Jobs: everything tether does on a schedule or after a webhook."""
