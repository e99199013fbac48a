"""Benchmarks and the long fault drill (`make bench`, `make drill`); see bench/README-section.md."""
