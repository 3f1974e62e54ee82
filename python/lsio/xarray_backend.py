"""The ``lsio`` xarray backend: ``xr.open_dataset(path, engine="lsio")``.

Variables are lazy and backed by native lsio handles (``lsio.open``): the store's metadata is
parsed once, each read goes straight to lsio's C++ engine with the GIL released, and the handles
pickle cheaply (a dask.distributed worker re-opens the dataset once per process). Dimensions,
attributes and CF decoding follow xarray's own Zarr backend (``xr.open_zarr``): Zarr v2 fill
values act as ``_FillValue``; Zarr v3 ``_FillValue`` attributes are decoded as xarray writes
them.

With ``chunks={}`` each variable is chunked as ``encoding["preferred_chunks"]`` says: whole
storage chunks (shards up to 64 MiB) grouped along the slowest dimensions into blocks of at
least 8 MiB (16 MiB aimed at; ``chunk_target_bytes``; ``lsio.Array.preferred_chunks``), so a
dask task reads many small chunks through one engine call (parallel IO and decoding inside the
task) and no chunk is read by two tasks. Larger blocks cost memory and, on machines where
fresh pages are expensive, time: a dask reduction holds a few temporaries of each block per
worker thread, and blocks above glibc's 32 MiB mmap threshold are fresh memory every time
(docs/benchmarks.md measured 8-64 MiB).
"""

from __future__ import annotations

import os
from typing import Any, Iterable

import numpy as np
from xarray.backends import BackendArray, BackendEntrypoint
from xarray.backends.common import AbstractDataStore
from xarray.backends.store import StoreBackendEntrypoint
from xarray.core import indexing
from xarray.core.utils import FrozenDict
from xarray.core.variable import Variable

from . import _api

_MARKERS = ("zarr.json", ".zgroup", ".zarray", ".zmetadata")

# Decoded bytes a dask task should move (lsio.Array.preferred_chunks): per-task overhead is
# small beside 16 MiB, and a reduction's temporaries (a few blocks' worth per thread) stay
# moderate (docs/benchmarks.md: 8-32 MiB were as fast as 32-64 MiB, with less memory).
CHUNK_TARGET_BYTES = 16 << 20


class LsioBackendArray(BackendArray):
    """A lazily read array (basic indexing in lsio; xarray adapts outer and vectorised
    indexing on top). Pickles as its handle: re-opened once per process."""

    def __init__(self, array: "_api.Array"):
        self._array = array
        self.shape = array.shape
        self.dtype = array.dtype

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape,
                                                  indexing.IndexingSupport.BASIC, self._raw)

    def _raw(self, key: tuple) -> np.ndarray:
        return self._array._h[key]


class LsioStore(AbstractDataStore):
    """The variables and attributes of one group, undecoded, as xarray's store interface."""

    def __init__(self, path: str, group: str | None = None, *, consolidated: bool | None = None,
                 io: str = "auto", storage_options: dict | None = None,
                 chunk_target_bytes: int = CHUNK_TARGET_BYTES,
                 filter_by_keys: dict | None = None):
        root = _api.open(path, consolidated=consolidated, io=io, storage_options=storage_options)
        self._only: set[str] | None = None
        if not group and isinstance(root, _api.Group) and not root.arrays():
            group, self._only = _hypercube(path, root, filter_by_keys or {})
        elif filter_by_keys:
            raise ValueError(f"{path}: filter_by_keys applies to GRIB datasets (a group per "
                             "hypercube); this one has arrays at its root")
        node = root if not group else root[group.strip("/")]
        if isinstance(node, _api.Array):
            raise ValueError(f"{path}: the store is a single array; open it with lsio.open")
        self._group = node
        self._target = chunk_target_bytes

    def get_variables(self):
        out = {}
        arrays = self._group.arrays()
        for name, a in arrays.items():
            if self._only is not None and name not in self._only and \
                    not _is_coordinate_of(name, self._only, arrays):
                continue
            h = a._h
            if h.readable is not None:
                continue  # types lsio cannot read (strings) are left out
            attrs = dict(h.attrs)
            attrs.pop("_ARRAY_DIMENSIONS", None)
            mask = h.mask_value
            if mask is not None:
                # Zarr v2 (xarray's default): the fill value is the CF _FillValue.
                attrs["_FillValue"] = np.frombuffer(mask, dtype=a.dtype)[0]
            elif h.fill_value_attr_base64 and "_FillValue" in attrs:
                from xarray.backends.zarr import FillValueCoder

                attrs["_FillValue"] = FillValueCoder.decode(attrs["_FillValue"], a.dtype)
            data = indexing.LazilyIndexedArray(LsioBackendArray(a))
            encoding = {"chunks": a.chunks,
                        "preferred_chunks": dict(zip(a.dims, a.preferred_chunks(self._target)))}
            if a.shards is not None:
                encoding["shards"] = a.shards
            out[name] = Variable(a.dims, data, attrs, encoding)
        return FrozenDict(out)

    def get_attrs(self):
        return {k: v for k, v in self._group.attrs.items() if not k.lower().startswith("_nc")}

    def get_dimensions(self):
        dims: dict[str, int] = {}
        for a in self._group.arrays().values():
            dims.update(zip(a.dims, a.shape))
        return dims

    def close(self) -> None:
        pass


# cfgrib's filter keys and where lsio's GRIB view keeps them: a group per hypercube named
# "<typeOfLevel>/<stepType>", its variables named by cfgrib's variable name (shortName).
_GRIB_KEYS = ("typeOfLevel", "stepType", "shortName", "cfVarName")


def _leaf_groups(group: "_api.Group", prefix: str = "") -> list[tuple[str, "_api.Group"]]:
    out = [(prefix.rstrip("/"), group)] if group.arrays() else []
    for name, g in group.groups().items():
        out += _leaf_groups(g, f"{prefix}{name}/")
    return out


def _hypercube(path: str, root: "_api.Group", keys: dict) -> tuple[str, set[str] | None]:
    """The group (and, with shortName, the variables) that filter_by_keys selects, as cfgrib
    selects a hypercube: one must remain."""
    unknown = sorted(set(keys) - set(_GRIB_KEYS))
    if unknown:
        raise ValueError(f"{path}: filter_by_keys: lsio selects on {', '.join(_GRIB_KEYS)}; "
                         f"not on {', '.join(unknown)}")
    names = keys.get("shortName", keys.get("cfVarName"))
    names = None if names is None else ({names} if isinstance(names, str) else set(names))
    found = []
    for gpath, g in _leaf_groups(root):
        parts = gpath.split("/")
        if "typeOfLevel" in keys and parts[0] != keys["typeOfLevel"]:
            continue
        if "stepType" in keys and (len(parts) < 2 or parts[1] != keys["stepType"]):
            continue
        if names is not None and not names & set(g.arrays()):
            continue
        found.append(gpath)
    if len(found) == 1:
        return found[0], names
    if not found:
        raise ValueError(f"{path}: no hypercube matches filter_by_keys={keys!r}; it holds "
                         f"{', '.join(p for p, _ in _leaf_groups(root)) or 'none'}")
    raise ValueError(f"{path}: several hypercubes ({', '.join(found)}): pick one with "
                     "filter_by_keys={'typeOfLevel': ..., 'stepType': ...} (as cfgrib) or "
                     "group='<typeOfLevel>/<stepType>'")


def _is_coordinate_of(name: str, variables: set[str], arrays: dict) -> bool:
    """Kept beside the selected variables: the hypercube's coordinates (every array that is not
    a GRIB parameter of its own)."""
    return "GRIB_paramId" not in arrays[name]._h.attrs


class LsioBackendEntrypoint(BackendEntrypoint):
    """Opens Zarr stores (v2, v3, sharded) with lsio: ``xr.open_dataset(p, engine="lsio")``.

    Beyond xarray's decoding arguments: ``group``, ``consolidated`` (False ignores consolidated
    metadata), ``io`` (``"auto"``, ``"uring"``, ``"posix"``), ``storage_options`` and
    ``chunk_target_bytes`` (the decoded bytes a dask task aims at with ``chunks={}``).

    GRIB2 files (and directories and globs of them) open as cfgrib opens them: one hypercube,
    chosen with ``filter_by_keys`` (``typeOfLevel``, ``stepType``, ``shortName``, as cfgrib's
    ``backend_kwargs={"filter_by_keys": ...}``) when the file holds several; a file with one
    hypercube opens without a filter.
    """

    description = "Open Zarr stores with lsio's io_uring engine"
    url = "https://github.com/lsio/lsio"
    open_dataset_parameters = ("filename_or_obj", "drop_variables", "mask_and_scale",
                               "decode_times", "concat_characters", "decode_coords",
                               "use_cftime", "decode_timedelta", "group", "consolidated", "io",
                               "storage_options", "chunk_target_bytes", "filter_by_keys")

    def open_dataset(self, filename_or_obj: Any, *,
                     drop_variables: str | Iterable[str] | None = None,
                     mask_and_scale: bool = True, decode_times: bool = True,
                     concat_characters: bool = True, decode_coords: bool = True,
                     use_cftime: bool | None = None, decode_timedelta: bool | None = None,
                     group: str | None = None, consolidated: bool | None = None,
                     io: str = "auto", storage_options: dict | None = None,
                     chunk_target_bytes: int = CHUNK_TARGET_BYTES,
                     filter_by_keys: dict | None = None):
        store = LsioStore(os.fspath(filename_or_obj), group, consolidated=consolidated, io=io,
                          storage_options=storage_options, chunk_target_bytes=chunk_target_bytes,
                          filter_by_keys=filter_by_keys)
        return StoreBackendEntrypoint().open_dataset(
            store, mask_and_scale=mask_and_scale, decode_times=decode_times,
            concat_characters=concat_characters, decode_coords=decode_coords,
            drop_variables=drop_variables, use_cftime=use_cftime,
            decode_timedelta=decode_timedelta)

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        try:
            path = os.fspath(filename_or_obj)
        except TypeError:
            return False
        if path.lower().endswith((".grib", ".grib2", ".grb", ".grb2")):
            return os.path.isfile(path)
        return os.path.isdir(path) and any(os.path.exists(os.path.join(path, m)) for m in _MARKERS)
