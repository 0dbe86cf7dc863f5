"""Checks of scalar arguments shared by every layer of the package (the modules, the
training loop, the data generators): each error names where it was raised, the argument,
what was expected and what was given."""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["check_count", "check_flag"]


def check_count(value, name: str, where: str, minimum: int = 0) -> int:
    """``value`` as an int, refusing a bool, a non-integer or one below ``minimum``
    (ValueError naming ``where`` and ``name``)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) \
            or value < minimum:
        raise ValueError(f"{where}: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def check_flag(value, name: str, where: str) -> bool:
    """``value`` as a bool, refusing anything else (TypeError naming ``where`` and
    ``name``): a truthy string such as "no" would otherwise switch the option on."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{where}: {name} must be True or False, got {value!r:.40}")
    return bool(value)
