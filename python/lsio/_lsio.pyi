"""lsio native extension (use the lsio package, not this module directly)"""

from collections.abc import Mapping, Sequence
from typing import Annotated

from numpy.typing import NDArray


class CancelToken:
    """Cancels a running lsio call from another thread."""

    def __init__(self) -> None: ...

    def cancel(self) -> None:
        """Asks the call to stop as soon as it can."""

    def cancelled(self) -> bool:
        """Whether cancel() was called."""

class ArrayHandle:
    """One array of an opened dataset (use lsio.open; lsio.Array wraps it)."""

    @property
    def path(self) -> str: ...
    @property
    def location(self) -> str: ...
    @property
    def spec(self) -> tuple[str, str, bool, dict[str, str]]:
        """(location, io, consolidated, storage_options): how the dataset was opened."""
    @property
    def shape(self) -> tuple[int, ...]: ...
    @property
    def dtype(self) -> object: ...
    @property
    def dims(self) -> list[str]: ...
    @property
    def chunks(self) -> tuple[int, ...]:
        """The unit of decoding (inner chunks when sharded)."""
    @property
    def storage_chunks(self) -> tuple[int, ...]:
        """The unit of storage (shards when sharded)."""
    @property
    def attrs(self) -> object: ...
    @property
    def fill_value(self) -> bytes:
        """One element, native byte order."""
    @property
    def mask_value(self) -> bytes | None:
        """A fill value of the format's own that xarray masks as _FillValue (Zarr v2), as bytes, or None."""
    @property
    def fill_value_attr_base64(self) -> bool: ...
    @property
    def encoding(self) -> str:
        """How chunks are stored (codecs)."""
    @property
    def readable(self) -> object:
        """None, or why the array's elements cannot be read."""

    def __getitem__(self, key: object) -> object:
        """numpy basic indexing (ints, slices, Ellipsis); reads with the GIL released."""

    def read(self, ranges: Sequence[tuple[int, int, int, bool]], threads: int = 0) -> object:
        """Reads (start, step, count, drop) per dimension."""

    def preferred_chunks(self, min_bytes: int, target_bytes: int, max_bytes: int) -> tuple[int, ...]:
        """Block shape for dask (array::PreferredBlockShape)."""

    def coordinate(self, dim: str) -> object:
        """The decoded coordinate of a dimension, or None."""

    def state(self) -> tuple:
        """What reopen_array needs (pickling)."""

class DatasetHandle:
    """An opened dataset (use lsio.open)."""

    @property
    def location(self) -> str: ...
    @property
    def spec(self) -> tuple[str, str, bool, dict[str, str]]: ...
    @property
    def format(self) -> str: ...
    def groups(self) -> list[str]: ...
    def arrays(self) -> list[str]: ...
    def group_attrs(self, path: str) -> object: ...
    def is_coordinate(self, path: str) -> bool: ...
    def array(self, path: str) -> ArrayHandle: ...

def open_dataset(location: str, io: str = 'auto', consolidated: bool = True, storage_options: Mapping[str, str] = {}) -> DatasetHandle:
    """
    Opens the dataset at `location` (as the store holds it now) into the process-wide dataset cache.
    """

def reopen_array(state: tuple) -> ArrayHandle:
    """
    An ArrayHandle from ArrayHandle.state(): its dataset from the process-wide cache (opened once per process), the array checked against the state.
    """

def dataset_cache_opens() -> int:
    """How many times this process opened a dataset for handles (tests)."""

def plan_partitions(path: str, variables: Sequence[str], over: Sequence[str], selectors: list, stats: str, io: str, parts: int, split_dim: str) -> tuple:
    """
    The shares of a statistics request for lsio.dask.stats: (variables, split_dim, [(start, stop), ...]) along split_dim, aligned to storage chunks.
    """

def compute_stats(path: str, variables: Sequence[str], over: Sequence[str], selectors: list, stats: str, threads: int, max_memory: int, io: str, on_error: str, progress: object | None, cancel: CancelToken | None, group: str = '', more_paths: Sequence[str] = ..., storage_options: Mapping[str, str] = ...) -> dict:
    """Summary statistics; see lsio.stats."""

def rechunk(source: str, destination: str, chunks: Mapping[str, int], shards: Mapping[str, int], variables: Sequence[str], codec: str, zarr_format: int, max_memory: int, threads: int, resume: bool, dry_run: bool, temp: str, progress: object | None, cancel: CancelToken | None) -> dict:
    """Rechunks a dataset; see lsio.rechunk."""

def partial_stats(path: str, variables: Sequence[str], over: Sequence[str], selectors: list, stats: str, threads: int, max_memory: int, io: str, cancel: CancelToken | None) -> bytes:
    """
    Partial statistics of a share of the work, as bytes for merge_partials.
    """

def merge_partials(parts: Sequence[bytes]) -> dict:
    """
    Merges partial_stats results (in the order given) into a finished report.
    """

def map_reduce(path: str, var: str, selectors: list, call: object, combine: object, threads: int, max_memory: int, io: str, progress: object | None, cancel: CancelToken | None) -> tuple:
    """
    call(block, ordinal, index) on every block, combine(a, b) in chunk order; see lsio.map_reduce.
    """

def map_reduce_c(path: str, var: str, selectors: list, map: int, combine: int, result_bytes: int, threads: int, max_memory: int, io: str, progress: object | None, cancel: CancelToken | None) -> object:
    """
    C functions (addresses; lsio/ops/c_map_reduce.h) on every block without the GIL; the result's bytes or None. See lsio.map_reduce.
    """

def map_blocks(path: str, var: str, selectors: list, call: object, out: str, dtype: str, chunks: Sequence[int], name: str, zarr_format: int, codecs: str, replace: bool, threads: int, max_memory: int, io: str, progress: object | None, cancel: CancelToken | None) -> dict:
    """
    call(block, ordinal, index) -> the block's output, written to a new Zarr store; see lsio.map_blocks.
    """

def describe_selection(path: str, var: str, selectors: list, io: str) -> tuple:
    """
    (variable path, dims, [(start, step, count, drop)], dtype) of a selection.
    """

class Buffer:
    """
    Bytes read by lsio, without a copy: a read-only buffer (memoryview, numpy.frombuffer, bytes()). Releasing the last reference (and every memoryview of it) returns the memory to lsio's buffer pool.
    """

    def __buffer__(self, flags: int, /) -> memoryview: ...
    def __len__(self) -> int: ...
    def __bytes__(self) -> bytes: ...
    def __eq__(self, other: object | None) -> bool: ...  # type: ignore[override]
    @property
    def nbytes(self) -> int: ...

class StoreHandle:
    """A store opened by lsio.store.open."""

    def __init__(self, location: str, io: str = 'auto', storage_options: Mapping[str, str] = {}) -> None: ...
    @property
    def url(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def get(self, key: str) -> Buffer: ...
    def get_range(self, key: str, start: int, end: int | None = None) -> Buffer: ...
    def get_ranges(self, keys: str | Sequence[str], starts: Sequence[int], ends: Sequence[int | None] | None) -> list[Buffer]: ...
    def head(self, key: str) -> int: ...
    def list(self, prefix: str = '', recursive: bool = True, sizes: bool = False) -> list[str] | dict[str, int]: ...
    def put(self, key: str, data: object) -> None: ...
    def delete(self, key: str) -> None: ...
    def close(self) -> None: ...

class RangeStream:
    """Results of lsio.store.iter_ranges, in groups."""

    def __iter__(self) -> RangeStream: ...
    def __next__(self) -> list[tuple[int, Buffer]]: ...

def read_ranges(requests: Sequence[tuple[object, int, int | None]], io: str = 'auto', storage_options: Mapping[str, str] = {}) -> list[Buffer]:
    """(path_or_url, start, end) requests across stores, in one call (see lsio.store)."""

def iter_ranges(requests: object, max_bytes_in_flight: int, io: str = 'auto', storage_options: Mapping[str, str] = {}) -> RangeStream:
    """(path_or_url, start, end) requests from an iterator, streamed (see lsio.store.iter_ranges)."""

def store_iter_ranges(store: StoreHandle, requests: object, max_bytes_in_flight: int) -> RangeStream:
    """(key, start, end) requests on one store, streamed (see lsio.store.Store.iter_ranges)."""
