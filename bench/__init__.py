"""Benchmarks: each prints figures; none is a test (CI runs them only at a tiny size)."""
