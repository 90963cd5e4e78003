"""Network-namespace labs on this machine, for the tests, the demo and the benchmarks.

Not part of what routers run: nothing under ``src/`` imports it.
"""
