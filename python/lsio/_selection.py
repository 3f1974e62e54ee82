"""Selections from Python values to the tuples the extension takes."""

from __future__ import annotations

import datetime as _dt
import numbers
from typing import Any, Mapping

import numpy as np

from .errors import InvalidArgumentError


def _label(value: Any):
    """("s", text) | ("n", number) | ("t", nanoseconds since 1970) | None."""
    if value is None:
        return None
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, (np.timedelta64, _dt.timedelta)) or type(value).__name__ == "Timedelta":
        # A duration (GRIB's step): as text the extension reads exactly.
        return ("s", f"{int(np.timedelta64(value, 'ns').astype(np.int64))}ns")
    if isinstance(value, (np.datetime64, _dt.datetime, _dt.date)) or type(value).__name__ == "Timestamp":
        ns = np.datetime64(value, "ns").astype(np.int64)
        return ("t", int(ns))
    if isinstance(value, (numbers.Real, np.number)) and not isinstance(value, bool):
        return ("n", float(value))
    raise InvalidArgumentError(f"cannot use {value!r} as a coordinate label")


def _index(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool):
        return int(value)
    raise InvalidArgumentError(f"positional indices must be integers, not {value!r}")


def selectors(isel: Mapping[str, Any] | None = None,
              sel: Mapping[str, Any] | None = None) -> list[tuple]:
    """isel: {dim: int | slice}; sel: {dim: label | slice(label, label)} (inclusive, as
    xarray's ``.sel``)."""
    out: list[tuple] = []
    for dim, v in (isel or {}).items():
        if isinstance(v, slice):
            out.append((dim, "slice", _index(v.start), _index(v.stop), _index(v.step)))
        else:
            out.append((dim, "index", _index(v)))
    for dim, v in (sel or {}).items():
        if isinstance(v, slice):
            if v.step is not None:
                raise InvalidArgumentError(f"sel {dim}: a step is not supported")
            out.append((dim, "range", _label(v.start), _label(v.stop)))
        else:
            out.append((dim, "label", _label(v)))
    return out


def ranges_from_key(key: Any, shape: tuple[int, ...]) -> list[tuple[int, int, int, bool]]:
    """numpy basic indexing (ints, slices, Ellipsis) -> (start, step, count, drop) per
    dimension."""
    if not isinstance(key, tuple):
        key = (key,)
    if any(k is Ellipsis for k in key):
        i = next(i for i, k in enumerate(key) if k is Ellipsis)
        fill = len(shape) - (len(key) - 1)
        key = key[:i] + (slice(None),) * fill + key[i + 1:]
    if len(key) > len(shape):
        raise IndexError(f"too many indices: array has {len(shape)} dimensions")
    key = key + (slice(None),) * (len(shape) - len(key))
    out = []
    for k, n in zip(key, shape):
        if isinstance(k, slice):
            start, stop, step = k.indices(n)
            out.append((start, step, len(range(start, stop, step)), False))
        elif isinstance(k, (numbers.Integral, np.integer)) and not isinstance(k, bool):
            i = int(k)
            if i < -n or i >= n:
                raise IndexError(f"index {i} is out of bounds for a dimension of size {n}")
            out.append((i % n, 1, 1, True))
        else:
            raise TypeError(f"lsio arrays take ints, slices and Ellipsis, not {k!r}")
    return out
