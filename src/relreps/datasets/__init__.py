"""Dataset adapters: real data from local files, no downloads by default."""

__all__: list[str] = []  # a namespace: import the submodules
