"""lsio.open: groups and arrays of a Zarr store, read through lsio's C++ engine."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import cached_property
from typing import Any, Iterator

import numpy as np

from . import _lsio
from ._run import run_cancellable
from ._selection import ranges_from_key, selectors  # noqa: F401  (selectors: re-exported)
from .errors import NotFoundError, NotSupportedError


def _describe(path: str) -> dict:
    # s3:// and http(s):// locations are the stores' business (configured from the
    # environment, as the AWS tools are; see docs/object-storage.md).
    if "://" not in path and not os.path.exists(path):
        raise FileNotFoundError(2, "No such file or directory", path)
    return json.loads(_lsio.describe(path))


def open(path: str | os.PathLike) -> "Group | Array":  # noqa: A001 (mirrors zarr.open)
    """Opens the Zarr store (v2 or v3, consolidated or not) at ``path``.

    Returns the root: a :class:`Group`, or an :class:`Array` when the store is a single array.
    Raises ``FileNotFoundError`` when nothing is there, :class:`lsio.errors.Error` subclasses
    for malformed metadata (naming the file).
    """
    path = os.fspath(path)
    doc = _describe(path)
    store = _Store(path, doc)
    return store.node("")


class _Store:
    def __init__(self, path: str, doc: dict):
        self.path = path
        self.nodes = {n["path"]: n for n in doc["nodes"]}

    def node(self, p: str) -> "Group | Array":
        info = self.nodes.get(p)
        if info is None:
            raise NotFoundError(f"no group or array '{p}' in {self.path}")
        return Array(self, info) if info["kind"] == "array" else Group(self, info)

    def children(self, p: str) -> list[str]:
        prefix = p + "/" if p else ""
        return sorted(k[len(prefix):] for k in self.nodes
                      if k and k.startswith(prefix) and "/" not in k[len(prefix):])


class _Node:
    def __init__(self, store: _Store, info: dict):
        self._store = store
        self._info = info

    @property
    def path(self) -> str:
        """Path inside the store ("" for the root)."""
        return self._info["path"]

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def store_path(self) -> str:
        """The store's directory."""
        return self._store.path

    @property
    def attrs(self) -> dict:
        """The node's attributes."""
        return dict(self._info["attributes"])

    @property
    def zarr_format(self) -> int:
        return self._info["zarr_format"]


class Group(_Node, Mapping):
    """A Zarr group: a mapping from child names to groups and arrays."""

    def __getitem__(self, key: str) -> "Group | Array":
        p = f"{self.path}/{key}" if self.path else key
        if p not in self._store.nodes:
            raise NotFoundError(f"'{key}' not found in group '{self.path}' of {self.store_path}"
                                f" (members: {', '.join(self) or 'none'})")
        return self._store.node(p)

    def __iter__(self) -> Iterator[str]:
        return iter(self._store.children(self.path))

    def __len__(self) -> int:
        return len(self._store.children(self.path))

    def arrays(self) -> dict[str, "Array"]:
        """The arrays directly in this group."""
        return {k: v for k, v in self.items() if isinstance(v, Array)}

    def groups(self) -> dict[str, "Group"]:
        """The groups directly in this group."""
        return {k: v for k, v in self.items() if isinstance(v, Group)}

    def __repr__(self) -> str:
        return f"<lsio.Group '{self.path or '/'}' in {self.store_path}: {list(self)}>"


class Array(_Node):
    """A Zarr array. Index it like numpy (``a[0, 10:20]``) or by dimension name
    (``a.read(time=0, lat=slice(10, 20))``); either returns a numpy array read through lsio's
    C++ engine, with the GIL released, straight into the array's memory."""

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._info["shape"])

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self._info["dtype"])

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def chunks(self) -> tuple[int, ...]:
        """Shape of the chunks that are decoded one by one (inner chunks when sharded)."""
        return tuple(self._info["chunks"])

    @property
    def shards(self) -> tuple[int, ...] | None:
        """Shape of a shard, or None when the array is not sharded."""
        s = self._info["shards"]
        return tuple(s) if s is not None else None

    @property
    def dims(self) -> tuple[str, ...]:
        """Dimension names (v3 dimension_names, v2 _ARRAY_DIMENSIONS; "dim_<i>" if unnamed)."""
        return tuple(self._info["dims"])

    @property
    def fill_value(self) -> Any:
        """The fill value as one element of ``dtype`` (None for a Zarr v2 null fill)."""
        if self._info["fill_value_is_null"] or not self._info["fill_bytes"]:
            return None
        return np.frombuffer(bytes.fromhex(self._info["fill_bytes"]), dtype=self.dtype)[0]

    @property
    def codecs(self) -> str:
        return self._info["codecs"]

    @cached_property
    def coords(self) -> dict[str, np.ndarray]:
        """Coordinate values of the dimensions that have a coordinate variable (1-D arrays
        named after the dimension in the same group), CF-decoded as xarray decodes them."""
        import xarray as xr

        group = self.path.rsplit("/", 1)[0] if "/" in self.path else ""
        out = {}
        for d in self.dims:
            p = f"{group}/{d}" if group else d
            info = self._store.nodes.get(p)
            if info is None or info["kind"] != "array" or len(info["shape"]) != 1:
                continue
            c = Array(self._store, info)
            var = xr.Variable((d,), c[...], c.attrs)
            out[d] = xr.decode_cf(xr.Dataset({d: var}))[d].values
        return out

    def __getitem__(self, key: Any) -> np.ndarray:
        return self._read(ranges_from_key(key, self.shape))

    def read(self, **indexers: Any) -> np.ndarray:
        """Reads a selection given by dimension name: ints drop the dimension, slices keep it
        (``a.read(time=0, lat=slice(100, 200))``)."""
        key = []
        unknown = set(indexers) - set(self.dims)
        if unknown:
            raise NotFoundError(f"array '{self.path}' has no dimension {sorted(unknown)} "
                                f"(dimensions: {list(self.dims)})")
        for d in self.dims:
            key.append(indexers.get(d, slice(None)))
        return self[tuple(key)]

    def _read(self, ranges: list[tuple[int, int, int, bool]], threads: int = 0,
              io: str = "auto") -> np.ndarray:
        if self._info["readable"] is not None:
            raise NotSupportedError(f"array '{self.path}': {self._info['readable']}")
        shape = tuple(r[2] for r in ranges if not r[3])
        out = np.empty(shape, dtype=self.dtype)
        if out.size:
            # A byte view: the extension fills raw elements of any dtype (datetime64 too).
            run_cancellable(_lsio.read_into, self.store_path, self.path, ranges,
                            out.reshape(-1).view(np.uint8), threads=threads, io=io)
        return out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        a = self[...]
        return a if dtype is None else a.astype(dtype)

    def __repr__(self) -> str:
        dims = ", ".join(f"{d}: {n}" for d, n in zip(self.dims, self.shape))
        return f"<lsio.Array '{self.path}' ({dims}) {self.dtype} chunks={self.chunks}>"
