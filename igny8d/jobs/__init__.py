"""Background work: the periodic housekeeping scheduler (and, later, the AI job executor)."""
