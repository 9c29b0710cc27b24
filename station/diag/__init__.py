"""``livescan diag``: technician diagnostics as a library, one module per check.

``report`` (the findings model), ``system`` (the host under an injectable root: Pi model, ports,
consoles), ``sensor``, ``capture``, ``gpio``, ``network``, ``queue``, ``bundle``, ``record``,
``daemon`` (finding and asking a running daemon), ``api`` (the daemon's ``/api/diag`` router),
``runner`` (every check over one configuration) and ``cli`` (the thin click layer).
"""
