"""Reusable models with absolute or relative bottlenecks."""
