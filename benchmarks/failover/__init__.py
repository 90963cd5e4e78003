"""Failover benchmark: routerhad against keepalived in a network-namespace lab."""
