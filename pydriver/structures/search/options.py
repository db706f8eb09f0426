"""Command-line options of the search scripts from the fields of a settings dataclass (no argparse here)."""

from __future__ import annotations

import dataclasses
from typing import Any


def parse_bool(text: str) -> bool:
    """``"true"``/``"false"`` (any case, also ``1``/``0``, ``yes``/``no``) -> bool.

    Raises
    ------
    ValueError for anything else.
    """
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise ValueError(f"{text!r} is not true or false")


def option_specs(settings_class: type, exclude: tuple[str, ...] = ()) -> list[tuple[str, dict[str, Any]]]:
    """``(flag, keyword arguments of ArgumentParser.add_argument)`` for the fields of ``settings_class``
    not in ``exclude``.

    ``field_name`` becomes ``--field-name``; a False default becomes a switch, a True default takes
    ``true``/``false``, a tuple default ``nargs="+"`` of its element type, ``None`` a string, anything
    else its default's type.
    """
    specs = []
    for f in dataclasses.fields(settings_class):
        if f.name in exclude:
            continue
        if f.default is False:
            kwargs: dict[str, Any] = {"action": "store_true"}
        elif f.default is True:
            kwargs = {"type": parse_bool, "metavar": "{true,false}"}
        elif isinstance(f.default, tuple):
            kwargs = {"nargs": "+", "type": type(f.default[0]) if f.default else str}
        else:
            kwargs = {"type": str if f.default is None else type(f.default)}
        kwargs.update(default=f.default, dest=f.name, help=f"default {f.default}")
        specs.append(("--" + f.name.replace("_", "-"), kwargs))
    return specs


def settings_from(settings_class: type, values: Any, **overrides: Any):
    """``settings_class`` from the attributes of ``values`` named like its fields (an argparse
    namespace; missing ones keep their defaults), then ``overrides``; lists become tuples."""
    kwargs = {}
    for f in dataclasses.fields(settings_class):
        if hasattr(values, f.name):
            value = getattr(values, f.name)
            kwargs[f.name] = tuple(value) if isinstance(value, list) else value
    return settings_class(**{**kwargs, **overrides})
