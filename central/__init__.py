"""The central matching service (issue 4)."""
