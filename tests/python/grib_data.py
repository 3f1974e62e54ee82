"""GRIB2 files written at test time with ecCodes (the pinned eccodes/eccodeslib), and the
cfgrib/xarray views of them the GRIB tests compare lsio with."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import numpy as np

logging.getLogger("cfgrib").setLevel(logging.CRITICAL)

SHARED = Path(os.environ.get("LSIO_SHARED_FIXTURES", "/work/shared/fixtures")) / "grib"
SEED = 20261206


def _field(rng, n, lo, hi):
    x = np.cumsum(rng.normal(0, 1, n))
    x = (x - x.min()) / max(np.ptp(x), 1e-30)
    return lo + (hi - lo) * x


def encode(values, sample, keys, packing="grid_simple", bpv=12, mask=None):
    import eccodes as ec
    h = ec.codes_grib_new_from_samples(sample)
    try:
        ec.codes_set_string(h, "packingType", packing)
        for k, v in keys:
            if isinstance(v, str):
                ec.codes_set_string(h, k, v)
            else:
                ec.codes_set(h, k, v)
        ec.codes_set(h, "bitsPerValue", bpv)
        v = np.array(values, dtype=np.float64).ravel()
        if mask is not None:
            ec.codes_set(h, "bitmapPresent", 1)
            ec.codes_set_double(h, "missingValue", 9999.0)
            v = v.copy()
            v[mask] = 9999.0
        ec.codes_set_double_array(h, "values", v)
        return ec.codes_get_message(h)
    finally:
        ec.codes_release(h)


def grid(ni, nj):
    return [("Ni", ni), ("Nj", nj), ("latitudeOfFirstGridPointInDegrees", 90.0),
            ("longitudeOfFirstGridPointInDegrees", 0.0),
            ("latitudeOfLastGridPointInDegrees", -90.0),
            ("longitudeOfLastGridPointInDegrees", 360.0 - 360.0 / ni),
            ("iDirectionIncrementInDegrees", 360.0 / ni),
            ("jDirectionIncrementInDegrees", 180.0 / (nj - 1)),
            ("numberOfDataPoints", ni * nj)]


def write_archive(directory: Path, days: int = 3, ni: int = 36, nj: int = 19) -> list[Path]:
    """One file per day of 6-hourly fields: t on 850 and 500 hPa (simple packing, a bitmap on
    some fields), sp on the surface (CCSDS), t2m at 2 m (complex packing with spatial
    differencing), tp accumulated over 0-6 h (a second stepType on the surface)."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    g = grid(ni, nj)
    n = ni * nj
    paths = []
    for day in range(days):
        date = int((np.datetime64("2024-01-30") + np.timedelta64(day, "D")).astype(str)
                   .replace("-", ""))
        msgs = []
        for hour in (0, 6, 12, 18):
            when = [("dataDate", date), ("dataTime", hour * 100)]
            for level in (850, 500):
                mask = _field(rng, n, 0, 1) > 0.8 if (hour == 6 and level == 500) else None
                msgs.append(encode(_field(rng, n, 200, 300), "regular_ll_pl_grib2",
                                   g + [("shortName", "t"), ("level", level)] + when, mask=mask))
            msgs.append(encode(_field(rng, n, 50000, 104000), "regular_ll_sfc_grib2",
                               g + [("shortName", "sp")] + when, packing="grid_ccsds", bpv=16))
            msgs.append(encode(_field(rng, n, 220, 320), "regular_ll_sfc_grib2",
                               g + [("shortName", "2t")] + when,
                               packing="grid_complex_spatial_differencing"))
            msgs.append(encode(_field(rng, n, 0, 0.01), "regular_ll_sfc_grib2",
                               g + [("shortName", "tp"), ("stepType", "accum"),
                                    ("startStep", 0), ("endStep", 6)] + when, bpv=14))
        p = directory / f"an_{date}.grib2"
        p.write_bytes(b"".join(msgs))
        paths.append(p)
    return paths


def cfgrib_datasets(path) -> list:
    import cfgrib
    warnings.simplefilter("ignore")
    return cfgrib.open_datasets(str(path), backend_kwargs={"indexpath": ""})


def cfgrib_variables(path) -> dict:
    """{lsio path: DataArray} for every variable of cfgrib.open_datasets(path): the path is the
    group lsio gives it (typeOfLevel/stepType, with the shortName where that pair spans
    hypercubes) and its name."""
    dss = cfgrib_datasets(path)
    owners: dict = {}
    for k, ds in enumerate(dss):
        for n in ds.data_vars:
            a = ds[n].attrs
            owners.setdefault((a["GRIB_typeOfLevel"], a["GRIB_stepType"]), set()).add(k)
    out = {}
    for k, ds in enumerate(dss):
        for n in ds.data_vars:
            a = ds[n].attrs
            key = (a["GRIB_typeOfLevel"], a["GRIB_stepType"])
            group = f"{key[0]}/{key[1]}"
            if len(owners[key]) > 1:
                group += "/" + a["GRIB_shortName"]
            out[f"{group}/{n}"] = ds[n]
    return out


def concatenate(paths, out: Path) -> Path:
    out.write_bytes(b"".join(Path(p).read_bytes() for p in paths))
    return out
