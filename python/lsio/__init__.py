"""lsio: light-speed IO for chunked, labelled arrays (Zarr v2, v3, sharded).

    import lsio
    root = lsio.open("data.zarr")              # groups and arrays, read through lsio
    sst = root["sst"][0, 100:200]              # numpy, read with the GIL released
    ds = lsio.stats("data.zarr", over="time")  # xarray.Dataset of per-pixel statistics
    xr.open_dataset("data.zarr", engine="lsio")
    lsio.to_dask("data.zarr", "sst")           # dask array whose tasks read through lsio
    lsio.dask.stats("data.zarr", client=c)     # the same statistics on a dask cluster
    lsio.map_reduce("data.zarr", "sst", lambda b, r: (b > 30).sum(), operator.add)
    lsio.map_blocks("data.zarr", "sst", lambda b, r: b * 2, out="double.zarr")
    lsio.rechunk("data.zarr", "ts.zarr", {"time": 1024, "lat": 32, "lon": 32})
    lsio.store.open("s3://bucket").get_ranges(keys, starts, ends)   # bytes, zero copy
    lsio.read_ranges([("/data/a.nc", 0, 4096), ("s3://b/x", -8, None)])
"""

from lsio._lsio import __version__
from lsio import errors
from lsio._api import Array, Group, open
from lsio._map_reduce import C_COMBINE_SIGNATURE, C_MAP_SIGNATURE, Region, map_blocks, map_reduce
from lsio._rechunk import rechunk
from lsio._stats import stats
from lsio.dask import to_dask
from lsio.errors import Error
from lsio import store
from lsio.store import read_ranges

__all__ = ["__version__", "open", "stats", "rechunk", "map_reduce", "map_blocks", "Region",
           "C_MAP_SIGNATURE", "C_COMBINE_SIGNATURE",
           "to_dask", "Array", "Group", "Error", "errors", "store", "read_ranges"]
