"""Named registries (demosaic methods, looks, lenses, layouts...).

``get`` on an unknown name raises :class:`InvalidParameter` listing every valid name.
"""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from rawlux.core.errors import InvalidParameter

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> object mapping with a helpful error for unknown names."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, obj: T | None = None) -> Callable[[T], T] | T:
        """``reg.register("x", obj)`` or as a decorator ``@reg.register("x")``."""
        key = name.lower()
        if obj is not None:
            self._items[key] = obj
            return obj

        def deco(o: T) -> T:
            self._items[key] = o
            return o

        return deco

    def get(self, name: str) -> T:
        try:
            return self._items[name.lower()]
        except KeyError:
            valid = ", ".join(sorted(self._items)) or "(none)"
            raise InvalidParameter(f"unknown {self.kind} {name!r}; valid: {valid}") from None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def names(self) -> list[str]:
        return sorted(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)
