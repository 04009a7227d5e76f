"""Reproductions of the paper's experiments; each module only composes library parts."""
