"""Benchmarks of projection (heavy; not part of the test suite): see bench/__main__.py."""
