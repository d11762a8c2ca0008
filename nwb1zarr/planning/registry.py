"""A tiny registry of named functions: transforms, derivations and metadata parsers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import ProfileError

Fn = Callable[..., Any]


class Registry:
    """Functions by name; a profile may only name what is registered.

    >>> steps = Registry("transform")
    >>> @steps.register("double")
    ... def double(x): return 2 * x
    >>> steps["double"](2)
    4
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.functions: dict[str, Fn] = {}

    def register(self, name: str) -> Callable[[Fn], Fn]:
        def add(fn: Fn) -> Fn:
            self.functions[name] = fn
            return fn

        return add

    def __getitem__(self, name: str) -> Fn:
        try:
            return self.functions[name]
        except KeyError:
            known = ", ".join(sorted(self.functions))
            raise ProfileError(f"unknown {self.kind} {name!r} (known: {known})") from None

    def __contains__(self, name: object) -> bool:
        return name in self.functions
