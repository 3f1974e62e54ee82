"""lsio native extension (use the lsio package, not this module directly)"""

from collections.abc import Sequence
from typing import Annotated

from numpy.typing import NDArray


class CancelToken:
    """Cancels a running lsio call from another thread."""

    def __init__(self) -> None: ...

    def cancel(self) -> None:
        """Asks the call to stop as soon as it can."""

    def cancelled(self) -> bool:
        """Whether cancel() was called."""

def describe(path: str) -> str:
    """The groups and arrays of the Zarr store at `path`, as a JSON document."""

def read_into(path: str, array: str, ranges: Sequence[tuple[int, int, int, bool]], out: Annotated[NDArray, dict(order='C')], threads: int = 0, io: str = 'auto', cancel: CancelToken | None = None) -> None:
    """
    Reads the selection `ranges` ((start, step, count, drop) per dimension) of `array` into the C-contiguous numpy array `out`, with the GIL released.
    """

def compute_stats(path: str, variables: Sequence[str], over: Sequence[str], selectors: list, stats: str, threads: int, max_memory: int, io: str, on_error: str, progress: object | None, cancel: CancelToken | None, group: str = '', more_paths: Sequence[str] = ...) -> dict:
    """Summary statistics; see lsio.stats."""

def partial_stats(path: str, variables: Sequence[str], over: Sequence[str], selectors: list, stats: str, threads: int, max_memory: int, io: str, cancel: CancelToken | None) -> bytes:
    """
    Partial statistics of a share of the work, as bytes for merge_partials.
    """

def merge_partials(parts: Sequence[bytes]) -> dict:
    """
    Merges partial_stats results (in the order given) into a finished report.
    """
