"""Protocol-level peers the controller tests talk to over real transports
(loopback TCP, ptys, Unix sockets)."""
