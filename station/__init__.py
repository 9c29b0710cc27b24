"""The station: daemon, capture workflow, kiosk, diagnostics and the `livescan` command line."""
