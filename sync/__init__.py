"""The wire between station and centre: ANSI/NIST-ITL transactions, outbox, delivery (issues 4, 5)."""
