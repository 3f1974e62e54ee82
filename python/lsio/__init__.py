"""lsio: light-speed IO for chunked, labelled arrays (Zarr v2/v3)."""

from lsio._lsio import __version__

__all__ = ["__version__"]
