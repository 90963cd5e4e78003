"""Benchmarks of routerha against reference implementations (run as root)."""
