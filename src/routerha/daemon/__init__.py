"""routerhad: the Linux I/O layer and asyncio loop around the sans-IO VRRP core."""
