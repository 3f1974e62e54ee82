"""lsio.open: groups and arrays of a dataset, backed by native handles.

A :class:`Group` wraps the opened dataset (``_lsio.DatasetHandle``: metadata parsed once, in
C++); an :class:`Array` wraps one array of it (``_lsio.ArrayHandle``): indexing goes straight
to lsio's engine with the GIL released. Arrays pickle as what is needed to re-open them
(location, open options, and what the array was); on the other side the dataset is opened once
per process and shared by every handle on it, so arrays travel to dask workers cheaply.

A handle survives the store being rewritten: each read first checks (one small read) that the
store still holds the array it describes. When only the chunking or codecs changed, the dataset
is re-opened and the read decodes the new chunks; when the shape, dtype, dimensions, attributes
or fill value changed, the read raises :class:`lsio.errors.ChangedError`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Iterator

import numpy as np

from . import _lsio
from ._selection import selectors  # noqa: F401  (re-exported)
from .errors import NotFoundError

__all__ = ["open", "Group", "Array"]


def open(path: str | os.PathLike, *, consolidated: bool | None = None, io: str = "auto",  # noqa: A001
         storage_options: Mapping[str, Any] | None = None) -> "Group | Array":
    """Opens the dataset (a Zarr store: v2 or v3, consolidated or not, sharded) at ``path``.

    Returns the root: a :class:`Group`, or an :class:`Array` when the store is a single array.
    ``consolidated=False`` ignores consolidated metadata; ``io`` picks the local IO backend
    (``"auto"``, ``"uring"``, ``"posix"``). Raises ``FileNotFoundError`` when nothing is there,
    :class:`lsio.errors.Error` subclasses for malformed metadata (naming the file).
    """
    ds = _open_handle(path, consolidated=consolidated, io=io, storage_options=storage_options)
    arrays = ds.arrays()
    if arrays == [""]:
        return Array(ds.array(""))
    return Group(ds, "")


def _storage_options(storage_options, prefix: str = "") -> dict:
    """storage_options as the extension takes them: text keys and values, fsspec's nesting
    (``client_kwargs={"region_name": ...}``) flattened to ``client_kwargs.region_name``."""
    out = {}
    for k, v in (storage_options or {}).items():
        if isinstance(v, Mapping):
            out.update(_storage_options(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = _option_text(v)
    return out


def _open_handle(path, *, consolidated=None, io="auto", storage_options=None):
    location = os.fspath(path)
    opts = _storage_options(storage_options)
    return _lsio.open_dataset(location, io=io, consolidated=consolidated is not False,
                              storage_options=opts)


def _option_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


class Group(Mapping):
    """A group: a mapping from child names to groups and arrays."""

    __slots__ = ("_ds", "_path", "_children")

    def __init__(self, ds: "_lsio.DatasetHandle", path: str):
        self._ds = ds
        self._path = path
        prefix = path + "/" if path else ""
        names = {}
        for kind, paths in (("group", ds.groups()), ("array", ds.arrays())):
            for p in paths:
                if p and p.startswith(prefix) and "/" not in p[len(prefix):]:
                    names[p[len(prefix):]] = kind
        self._children = dict(sorted(names.items()))

    @property
    def path(self) -> str:
        """Path inside the store ("" for the root)."""
        return self._path

    @property
    def name(self) -> str:
        return self._path.rsplit("/", 1)[-1]

    @property
    def store_path(self) -> str:
        """The store's location."""
        return self._ds.location

    @property
    def format(self) -> str:
        """"Zarr v2", "Zarr v3", ..."""
        return self._ds.format

    @property
    def attrs(self) -> dict:
        """The group's attributes."""
        return dict(self._ds.group_attrs(self._path) or {})

    def __getitem__(self, key: str) -> "Group | Array":
        if "/" in key:  # a path below this group: "sub/t2m"
            node: Group | Array = self
            for part in key.split("/"):
                if not isinstance(node, Group):
                    raise NotFoundError(f"'{key}' not found in group '{self._path}' of "
                                        f"{self.store_path}: '{node.path}' is an array")
                node = node[part]
            return node
        kind = self._children.get(key)
        if kind is None:
            raise NotFoundError(f"'{key}' not found in group '{self._path}' of {self.store_path}"
                                f" (members: {', '.join(self) or 'none'})")
        p = f"{self._path}/{key}" if self._path else key
        return Array(self._ds.array(p)) if kind == "array" else Group(self._ds, p)

    def __iter__(self) -> Iterator[str]:
        return iter(self._children)

    def __len__(self) -> int:
        return len(self._children)

    def __contains__(self, key: object) -> bool:
        return key in self._children

    def arrays(self) -> dict[str, "Array"]:
        """The arrays directly in this group."""
        return {k: self[k] for k, v in self._children.items() if v == "array"}

    def groups(self) -> dict[str, "Group"]:
        """The groups directly in this group."""
        return {k: self[k] for k, v in self._children.items() if v == "group"}

    def is_coordinate(self, name: str) -> bool:
        """Whether the array ``name`` of this group is a coordinate variable as xarray sees it."""
        return self._ds.is_coordinate(f"{self._path}/{name}" if self._path else name)

    def __repr__(self) -> str:
        return f"<lsio.Group '{self._path or '/'}' in {self.store_path}: {list(self)}>"


class Array:
    """An array. Index it like numpy (``a[0, 10:20]``) or by dimension name
    (``a.read(time=0, lat=slice(10, 20))``); either returns a numpy array read by lsio's C++
    engine, with the GIL released, straight into the array's memory."""

    __slots__ = ("_h", "_coords")

    def __init__(self, handle: "_lsio.ArrayHandle"):
        self._h = handle
        self._coords = None

    # --- what it is ---
    @property
    def path(self) -> str:
        """Path inside the store ("" for a store that is a single array)."""
        return self._h.path

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def store_path(self) -> str:
        return self._h.location

    @property
    def shape(self) -> tuple[int, ...]:
        return self._h.shape

    @property
    def ndim(self) -> int:
        return len(self._h.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self._h.shape, dtype=np.int64))

    @property
    def dtype(self) -> np.dtype:
        return self._h.dtype

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def dims(self) -> tuple[str, ...]:
        """Dimension names (v3 dimension_names, v2 _ARRAY_DIMENSIONS; "dim_<i>" if unnamed)."""
        return tuple(self._h.dims)

    @property
    def chunks(self) -> tuple[int, ...]:
        """Shape of the chunks that are decoded one by one (inner chunks when sharded)."""
        return self._h.chunks

    @property
    def shards(self) -> tuple[int, ...] | None:
        """Shape of the unit of storage (a shard) when it differs from ``chunks``, else None."""
        s = self._h.storage_chunks
        return s if s != self._h.chunks else None

    @property
    def attrs(self) -> dict:
        """The array's attributes."""
        return dict(self._h.attrs)

    @property
    def fill_value(self) -> Any:
        """The fill value as one element of ``dtype`` (None for types lsio cannot read)."""
        if self._h.readable is not None:
            return None
        return np.frombuffer(self._h.fill_value, dtype=self.dtype)[0]

    @property
    def codecs(self) -> str:
        """How chunks are stored (the codec chain)."""
        return self._h.encoding

    @property
    def coords(self) -> dict[str, np.ndarray]:
        """Coordinate values of the dimensions that have a coordinate variable (1-D arrays named
        after the dimension, in this array's group or above), CF-decoded as xarray decodes
        them; read and decoded in C++ once per dataset."""
        if self._coords is None:
            out = {}
            for d in self.dims:
                c = self._h.coordinate(d)
                if c is not None:
                    out[d] = c
            self._coords = out
        return dict(self._coords)

    def preferred_chunks(self, target: int = 16 << 20, *, min_bytes: int | None = None,
                         max_bytes: int | None = None) -> tuple[int, ...]:
        """The block shape lsio's xarray engine and :func:`lsio.to_dask` use: whole storage
        chunks (shards) grouped along the slowest dimensions until a block moves at least
        ``min_bytes`` (default ``target / 2``), aiming at ``target`` decoded bytes; a storage
        chunk above ``max_bytes`` (default ``4 * target``) is split in whole inner chunks."""
        lo = target // 2 if min_bytes is None else min_bytes
        hi = target * 4 if max_bytes is None else max_bytes
        return self._h.preferred_chunks(lo, target, hi)

    # --- reading ---
    def __getitem__(self, key: Any) -> np.ndarray:
        return self._h[key]

    def read(self, **indexers: Any) -> np.ndarray:
        """Reads a selection given by dimension name: ints drop the dimension, slices keep it
        (``a.read(time=0, lat=slice(100, 200))``)."""
        dims = self.dims
        unknown = set(indexers) - set(dims)
        if unknown:
            raise NotFoundError(f"array '{self.path}' has no dimension {sorted(unknown)} "
                                f"(dimensions: {list(dims)})")
        return self._h[tuple(indexers.get(d, slice(None)) for d in dims)]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        a = self._h[...]
        return a if dtype is None else a.astype(dtype)

    # --- pickling: re-opened through the process-wide dataset cache ---
    def __reduce__(self):
        return (_reopen_array, (self._h.state(),))

    def __repr__(self) -> str:
        dims = ", ".join(f"{d}: {n}" for d, n in zip(self.dims, self.shape))
        return f"<lsio.Array '{self.path}' ({dims}) {self.dtype} chunks={self.chunks}>"


def _reopen_array(state: tuple) -> Array:
    return Array(_lsio.reopen_array(state))
