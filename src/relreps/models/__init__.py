"""Reusable models with absolute or relative bottlenecks."""

__all__: list[str] = []  # a namespace: import the submodules
