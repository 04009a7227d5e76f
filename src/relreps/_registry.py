"""One registry shape for everything relreps looks up by name.

Similarities, measures, encoders and experiments are each a :class:`Registry`: entries are added
under a name, looked up with :meth:`Registry.get` (an unknown name is a ``ValueError`` that lists
the valid ones), and tests add entries with :meth:`Registry.temporary`, which removes them again.

Examples
--------
>>> colours = Registry("colour", hint="Register your own with add().")
>>> colours.add("red", "#f00")
'#f00'
>>> colours.get("red"), colours.names()
('#f00', ('red',))
>>> with colours.temporary("blue", "#00f"):
...     colours.names()
('blue', 'red')
>>> colours.names()
('red',)
>>> colours.get("green")
Traceback (most recent call last):
...
ValueError: Unknown colour 'green'; valid names are: red. Register your own with add().
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one kind.

    Parameters
    ----------
    kind
        What an entry is, for messages ("similarity", "experiment").
    hint
        A sentence appended to the unknown-name error (how to add one, other accepted forms).
    """

    def __init__(self, kind: str, *, hint: str = "") -> None:
        self.kind = kind
        self.hint = hint
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T, *, overwrite: bool = False) -> T:
        """Register ``entry`` under ``name``; an existing name needs ``overwrite=True``."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"A {self.kind} name must be a non-empty string, got {name!r}.")
        if name in self._entries and not overwrite:
            raise ValueError(
                f"A {self.kind} named {name!r} is already registered; pass overwrite=True to "
                "replace it."
            )
        self._entries[name] = entry
        return entry

    def get(self, name: str) -> T:
        """The entry called ``name``; ``ValueError`` naming the valid names otherwise."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            valid = ", ".join(self.names()) or "none"
            hint = f" {self.hint}" if self.hint else ""
            raise ValueError(
                f"Unknown {self.kind} {name!r}; valid names are: {valid}.{hint}"
            ) from None

    def remove(self, name: str) -> T:
        """Unregister ``name`` and return its entry."""
        self.get(name)
        return self._entries.pop(name)

    def names(self) -> tuple[str, ...]:
        """Every registered name, sorted."""
        return tuple(sorted(self._entries))

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    @contextmanager
    def temporary(self, name: str, entry: T) -> Iterator[T]:
        """Register ``entry`` for the duration of a ``with`` block (tests), then restore what
        was registered under ``name`` before, if anything."""
        previous = self._entries.get(name)
        had = name in self._entries
        self._entries[name] = entry
        try:
            yield entry
        finally:
            if had:
                self._entries[name] = previous  # type: ignore[assignment]
            else:
                self._entries.pop(name, None)
