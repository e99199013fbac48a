"""Benchmarks and the long fault drill (`make bench`, `make drill`).

What they measure and the latest numbers: README, "Performance and reliability".
"""
