"""pyserial URL handlers (``sim://``): add ``hw_sim.urlhandler`` to ``serial.protocol_handler_packages``."""
