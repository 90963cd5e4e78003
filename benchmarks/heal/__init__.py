"""Split-brain heal benchmark: routerhad against keepalived in a network-namespace lab."""
