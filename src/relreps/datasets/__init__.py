"""Dataset adapters: real data from local files, no downloads by default."""
