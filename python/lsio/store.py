"""lsio.store: keyed byte-range reads on local files and object storage, through lsio's engine.

For code that reads bytes itself (kerchunk-style references into NetCDF/HDF5/GRIB, custom
binary formats, ML data loaders)::

    import lsio.store

    s = lsio.store.open("s3://bucket/data", region="eu-west-1")   # or a path, or https://...
    header = s.get_range("a.nc", 0, 4096)
    parts = s.get_ranges(["a.nc", "b.nc", "a.nc"], [0, 100, 8192], [16, 200, None])
    size = s.head("a.nc")
    arr = numpy.frombuffer(parts[0], dtype="<f4")                   # no copy

    # (path_or_url, start, end) across stores, in one call:
    lsio.read_ranges([("/data/x.grib2", 0, 1024), ("s3://bucket/y.bin", -64, None)])

    # more ranges than fit in memory: results as they complete, in groups
    for group in lsio.store.iter_ranges(requests, max_bytes_in_flight=256 << 20):
        for index, data in group:
            ...

Ranges are ``[start, end)`` in bytes; ``end=None`` reads to the end of the value; a negative
``start`` counts from the end (``start=-16, end=None``: the last 16 bytes; then ``end`` may be
negative too). A range reaching past the end of a value is an error
(:class:`lsio.errors.OutOfRangeError`, an ``IndexError``), not a short read; an empty range
(``start == end``) inside the value gives an empty buffer.

Results are :class:`Buffer` objects: read-only Python buffers over lsio's own memory (the bytes
the engine read, never copied): ``memoryview(b)``, ``numpy.frombuffer(b, ...)`` and ``b == b"..."``
work without a copy, ``bytes(b)`` copies. A buffer stays valid as long as it (or a view of it) is
referenced, also after its store is closed; releasing it returns the memory to lsio's buffer
pool, so repeated calls reuse memory instead of growing. Nearby ranges of one key in one call
may be read as one (coalescing); their buffers then share one block of memory, which returns to
the pool when the last of them is released.

Reads run with the GIL released, on io_uring (or a pread pool) for local files and on libcurl's
multi interface for object storage; Ctrl-C interrupts a long call on the main thread.

Local files are read with O_DIRECT (``direct_io=True``, the default): from the device straight
into lsio's buffers, neither copied nor filling the page cache -- right for data read once,
larger than memory, or not cached. ``direct_io=False`` reads through the page cache instead:
right when the files are cached (a working set smaller than memory read repeatedly, files just
written), where O_DIRECT would go to the device every time. Results are identical.

Object stores read the ranges of one object in one call that lie at most 8 KiB apart with one
GET (``coalesce_max_gap``, bytes; ``coalesce_max_size``, 16 MiB, bounds such a GET): sparse
ranges fetch what they ask for, neighbouring ones share a request.

Errors: a missing key raises :class:`lsio.errors.KeyNotFoundError` (a ``FileNotFoundError``),
other failures the :mod:`lsio.errors` classes; messages name the file or URL and the byte range.
When several requests of a call fail, the first in request order is raised.

Memory: ``get_ranges`` and ``read_ranges`` return every result at once, so they hold what they
return (plus the gaps of coalesced reads); ``iter_ranges`` keeps at most ``max_bytes_in_flight``
bytes requested and not yet delivered, whatever the size of its input (results you keep are your
own memory; they do not hold the stream back).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Union

from . import _lsio
from ._lsio import Buffer

__all__ = ["open", "Store", "Buffer", "read_ranges", "iter_ranges"]

PathOrUrl = Union[str, "os.PathLike[str]"]
# (path_or_url, start, end) for read_ranges and iter_ranges; (key, start, end) for
# Store.iter_ranges.
RangeRequest = tuple[PathOrUrl, int, Union[int, None]]

_DEFAULT_WINDOW = 256 << 20


def _options(storage_options: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for k, v in storage_options.items():
        out[str(k)] = ("true" if v else "false") if isinstance(v, bool) else str(v)
    return out


def _location(url_or_path: PathOrUrl) -> str:
    location = os.fspath(url_or_path)
    if "://" in location:
        return location
    return os.path.abspath(location)


def open(url_or_path: PathOrUrl, *, io: str = "auto",  # noqa: A001
         **storage_options: Any) -> "Store":
    """Opens the store at a local directory, ``file://`` URL, ``s3://bucket[/prefix]`` or
    ``http(s)://host[/path]``: keys are paths below it.

    ``storage_options`` configure object storage as fsspec's do (``anon``, ``key``, ``secret``,
    ``token``, ``endpoint_url``, ``region``, ``requests``, ``retry_timeout``,
    ``coalesce_max_gap``, ...; unknown names are an error); credentials otherwise come from the
    environment and ``~/.aws`` as the AWS CLI finds them. Local stores take ``direct_io``
    (default True: O_DIRECT; False: through the page cache, for cached files; see
    :mod:`lsio.store`). ``io`` picks the local IO backend (``"auto"``, ``"uring"``,
    ``"posix"``). Opening checks nothing remotely; a store is opened once per process, location
    and options, and shared.
    """
    return Store(_lsio.StoreHandle(_location(url_or_path), io, _options(storage_options)))


class Store:
    """A store: keyed values read by byte range (see :mod:`lsio.store`). Safe to use from
    several threads at once; a context manager (``with lsio.store.open(...) as s:``)."""

    __slots__ = ("_h",)

    def __init__(self, handle: "_lsio.StoreHandle"):
        self._h = handle

    @property
    def url(self) -> str:
        """The store's location, as opened (an absolute path for local stores)."""
        return self._h.url

    def get(self, key: str) -> Buffer:
        """The whole value of ``key``."""
        return self._h.get(key)

    def get_range(self, key: str, start: int, end: int | None = None) -> Buffer:
        """Bytes ``[start, end)`` of ``key`` (``end=None``: to the end; negative ``start``: from
        the end)."""
        return self._h.get_range(key, start, end)

    def get_ranges(self, keys: str | Sequence[str], starts: Sequence[int],
                   ends: Sequence[int | None] | None = None) -> list[Buffer]:
        """Many ranges in one call, read together (one IO group: coalesced per key, as many in
        flight as the device or link takes), returned in request order. ``keys`` is one key for
        every range or one key per range (any mix); ``ends=None`` reads each to its end."""
        return self._h.get_ranges(keys, starts, ends)

    def iter_ranges(self, requests: Iterable[tuple[str, int, int | None]], *,
                    max_bytes_in_flight: int = _DEFAULT_WINDOW
                    ) -> Iterator[list[tuple[int, Buffer]]]:
        """:func:`iter_ranges` on this store's keys: ``requests`` yields ``(key, start, end)``."""
        return _lsio.store_iter_ranges(self._h, iter(requests), max_bytes_in_flight)

    def head(self, key: str) -> int:
        """The size of ``key``'s value in bytes."""
        return self._h.head(key)

    def list(self, prefix: str = "", *, recursive: bool = True,
             sizes: bool = False) -> "list[str] | dict[str, int]":
        """The keys below ``prefix``, sorted, as full keys. ``recursive=False``: only the level
        below ``prefix``, with sub-prefixes ending in ``/``. ``sizes=True``: a dict of key ->
        size. A prefix that does not exist lists as empty."""
        return self._h.list(prefix, recursive, sizes)

    def put(self, key: str, data: Any) -> None:
        """Stores ``data`` (any buffer: bytes, bytearray, memoryview, numpy array, Buffer) at
        ``key``, replacing what was there; atomic: readers see the old value or the new one."""
        self._h.put(key, data)

    def delete(self, key: str) -> None:
        """Removes ``key``; a key that does not exist is not an error."""
        self._h.delete(key)

    def close(self) -> None:
        """Releases this handle's readers (IO threads and buffer pools). Buffers already returned
        stay valid. Further calls raise."""
        self._h.close()

    @property
    def closed(self) -> bool:
        return self._h.closed

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"lsio.store.Store({self.url!r})"


def read_ranges(requests: Sequence[RangeRequest], *, io: str = "auto",
                **storage_options: Any) -> list[Buffer]:
    """Reads ``(path_or_url, start, end)`` requests across files and stores in one call;
    results in request order (see :mod:`lsio.store` for ranges, buffers and errors).

    Local paths (relative ones against the current directory) are all read through one engine;
    URLs are split into their store (``s3://bucket``, ``https://host``) and key, and each store
    gets one group. ``storage_options`` apply to every object store of the call, ``direct_io``
    to the local files."""
    return _lsio.read_ranges(requests, io, _options(storage_options))


def iter_ranges(requests: Iterable[RangeRequest], *, max_bytes_in_flight: int = _DEFAULT_WINDOW,
                io: str = "auto", **storage_options: Any) -> Iterator[list[tuple[int, Buffer]]]:
    """Streams ``(path_or_url, start, end)`` requests (any iterable, also a lazy one larger
    than memory) and yields the results as they complete, in groups: lists of
    ``(index, buffer)``, ``index`` being the request's position in ``requests``. Completion order
    is not request order.

    At most ``max_bytes_in_flight`` bytes are requested and not yet delivered at any time (a
    read to the end of a value of unknown size counts as 1 MiB until it arrives), so memory stays
    flat as long as the consumer drops what it is done with. The first failed request raises,
    ending the stream."""
    return _lsio.iter_ranges(iter(requests), max_bytes_in_flight, io, _options(storage_options))
