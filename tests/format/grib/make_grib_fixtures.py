#!/usr/bin/env python3
"""GRIB2 files written here and now with ecCodes (the pinned eccodes/eccodeslib in .venv), and
what ecCodes reads back from them, for lsio's GRIB tests.

    make_grib_fixtures.py --out DIR

Writes DIR/<name>.grib2 in every packing lsio decodes (simple at many bit widths and scale
factors, complex, complex with spatial differencing of order 1 and 2 with and without
missing-value management, IEEE 32/64, JPEG 2000, PNG, CCSDS), with and without bitmaps, on
regular lat/lon (both scanning directions, a grid starting at 180), regular and reduced
Gaussian and Lambert grids; a file of multi-field messages (sections 3-7 and 4-7 repeated, a
"254" bitmap) put together from ecCodes-written messages; and DIR/manifest.json with, for every
field as ecCodes' multi-field reader returns it, its keys and the name of a little-endian
float64 file of ecCodes' values (missing points = NaN), plus for one field per grid the
coordinates ecCodes gives (distinctLatitudes/Longitudes or latitudes/longitudes).
"""
import argparse
import json
import os

import hashlib
import logging
import warnings

import numpy as np

import eccodes as ec
import cfgrib
import xarray as xr

logging.getLogger("cfgrib").setLevel(logging.CRITICAL)

SEED = 20260306
MISSING = 9999.0
UNDEF = 9999.0  # ecCodes' marker for a missing value without a bitmap (complex packing)

KEYS = ["discipline", "parameterCategory", "parameterNumber", "paramId", "shortName", "cfVarName",
        "name", "units", "cfName", "typeOfLevel", "level", "stepType", "stepUnits", "startStep",
        "endStep", "stepRange", "dataDate", "dataTime", "validityDate", "validityTime", "number",
        "gridType", "packingType", "bitsPerValue", "numberOfDataPoints", "numberOfValues",
        "bitmapPresent", "missingValueManagementUsed", "orderOfSpatialDifferencing"]


def get(h, k):
    if not ec.codes_is_defined(h, k):
        return None
    try:
        t = ec.codes_get_native_type(h, k)
        if t is int:
            return int(ec.codes_get_long(h, k))
        if t is float:
            return float(ec.codes_get_double(h, k))
        return ec.codes_get_string(h, k)
    except Exception:
        try:
            return ec.codes_get_string(h, k)
        except Exception:
            return None


def field(rng, n, lo, hi):
    x = np.cumsum(rng.normal(0, 1, n))
    x = (x - x.min()) / max(np.ptp(x), 1e-30)
    return lo + (hi - lo) * x


def encode(values, sample, grid=(), keys=(), packing="grid_simple", bpv=None, decimal=None,
           sd_order=None, mask=None, undef=None, precision=None):
    h = ec.codes_grib_new_from_samples(sample)
    try:
        ec.codes_set_string(h, "packingType", packing)
        for k, v in list(grid) + list(keys):
            if isinstance(v, str):
                ec.codes_set_string(h, k, v)
            else:
                ec.codes_set(h, k, v)
        if ec.codes_get_string(h, "packingType") != packing:
            raise RuntimeError(f"packing {packing} not kept")
        if precision is not None:
            ec.codes_set(h, "precision", precision)
        if sd_order is not None:
            ec.codes_set(h, "orderOfSpatialDifferencing", sd_order)
        if decimal is not None:
            ec.codes_set(h, "decimalScaleFactor", decimal)
        if bpv is not None:
            ec.codes_set(h, "bitsPerValue", bpv)
        v = np.array(values, dtype=np.float64).ravel()
        n = ec.codes_get_long(h, "numberOfDataPoints")
        if v.size != n:
            raise ValueError(f"{v.size} values for {n} points")
        if mask is not None:
            ec.codes_set(h, "bitmapPresent", 1)
            ec.codes_set_double(h, "missingValue", MISSING)
            v = v.copy()
            v[mask] = MISSING
        if undef is not None:
            v = v.copy()
            v[undef] = UNDEF
        ec.codes_set_double_array(h, "values", v)
        return ec.codes_get_message(h)
    finally:
        ec.codes_release(h)


def ll_grid(ni, nj, la1, lo1, la2, lo2, south_to_north=False):
    return [("Ni", ni), ("Nj", nj), ("latitudeOfFirstGridPointInDegrees", la1),
            ("longitudeOfFirstGridPointInDegrees", lo1), ("latitudeOfLastGridPointInDegrees", la2),
            ("longitudeOfLastGridPointInDegrees", lo2),
            ("iDirectionIncrementInDegrees", round(abs(lo2 - lo1) / (ni - 1), 6) if lo2 > lo1
             else round((lo2 + 360 - lo1) / (ni - 1), 6)),
            ("jDirectionIncrementInDegrees", round(abs(la2 - la1) / (nj - 1), 6)),
            ("jScansPositively", 1 if south_to_north else 0), ("numberOfDataPoints", ni * nj)]


def lambert_grid(nx, ny):
    return [("gridDefinitionTemplateNumber", 30), ("shapeOfTheEarth", 6), ("Nx", nx), ("Ny", ny),
            ("latitudeOfFirstGridPointInDegrees", 12.19), ("longitudeOfFirstGridPointInDegrees", 226.541),
            ("LaDInDegrees", 25.0), ("LoVInDegrees", 265.0), ("DxInMetres", 40635),
            ("DyInMetres", 40635), ("Latin1InDegrees", 25.0), ("Latin2InDegrees", 25.0),
            ("scanningMode", 64), ("numberOfDataPoints", nx * ny)]


def files(rng):
    out = {}
    g = ll_grid(90, 46, 90, 0, -90, 356)
    n = 90 * 46
    mask = field(rng, n, 0, 1) > 0.65
    sfc = "regular_ll_sfc_grib2"
    pl = "regular_ll_pl_grib2"

    # Simple packing over bit widths and scale factors, incl. negative values and a constant
    # field with D != 0 and bitsPerValue 0.
    msgs = []
    for i, bpv in enumerate([1, 2, 3, 5, 7, 9, 11, 13, 15, 17, 19, 20, 23, 25, 27, 29, 31, 32]):
        msgs.append(encode(field(rng, n, -50 - i, 40 + 3 * i), sfc, g,
                           [("shortName", "2t")], bpv=bpv))
    msgs.append(encode(field(rng, n, 1e-7, 3e-6), sfc, g, [("shortName", "tp")], bpv=16,
                       decimal=9))
    msgs.append(encode(field(rng, n, 1e5, 1.1e5), sfc, g, [("shortName", "msl")], bpv=12,
                       decimal=-2))
    msgs.append(encode(np.full(n, 12.5), sfc, g, [("shortName", "tcc"), ("decimalScaleFactor", 1)]))
    msgs.append(encode(field(rng, n, 200, 300), sfc, g, [("shortName", "skt")], bpv=14, mask=mask))
    out["gen_simple"] = msgs

    # Complex packing, with bitmaps and with missing-value management (no bitmap).
    msgs = []
    for bpv in (6, 12, 18, 24):
        msgs.append(encode(field(rng, n, -30, 30), pl, g, [("shortName", "u"), ("level", 500)],
                           packing="grid_complex", bpv=bpv))
    msgs.append(encode(field(rng, n, 200, 300), pl, g, [("shortName", "t"), ("level", 850)],
                       packing="grid_complex", bpv=12, mask=mask))
    msgs.append(encode(field(rng, n, 200, 300), pl, g, [("shortName", "t"), ("level", 700)],
                       packing="grid_complex", bpv=12, undef=mask))
    out["gen_complex"] = msgs

    msgs = []
    for order in (1, 2):
        for bpv in (5, 11, 16, 23):
            msgs.append(encode(field(rng, n, -1000, 5000), pl, g,
                               [("shortName", "z"), ("level", 100 * bpv)],
                               packing="grid_complex_spatial_differencing", bpv=bpv,
                               sd_order=order))
        msgs.append(encode(field(rng, n, 0, 0.02), pl, g, [("shortName", "q"), ("level", 850)],
                           packing="grid_complex_spatial_differencing", bpv=13, sd_order=order,
                           mask=mask))
        msgs.append(encode(field(rng, n, 0, 0.02), pl, g, [("shortName", "q"), ("level", 500)],
                           packing="grid_complex_spatial_differencing", bpv=13, sd_order=order,
                           undef=mask))
        msgs.append(encode(field(rng, n, 240, 250), pl, g, [("shortName", "t"), ("level", 300)],
                           packing="grid_complex_spatial_differencing", bpv=10, sd_order=order,
                           decimal=2))
    out["gen_complex_sd"] = msgs

    msgs = []
    for prec in (1, 2):
        msgs.append(encode(field(rng, n, -1e-3, 5e4), sfc, g, [("shortName", "sp")],
                           packing="grid_ieee", precision=prec))
        msgs.append(encode(field(rng, n, -1e-3, 5e4), sfc, g, [("shortName", "sp")],
                           packing="grid_ieee", precision=prec, mask=mask))
    out["gen_ieee"] = msgs

    msgs = []
    for bpv in (4, 9, 12, 17, 22):
        msgs.append(encode(field(rng, n, 250, 320), pl, g, [("shortName", "t"), ("level", 1000)],
                           packing="grid_jpeg", bpv=bpv))
    msgs.append(encode(field(rng, n, 250, 320), pl, g, [("shortName", "t"), ("level", 925)],
                       packing="grid_jpeg", bpv=12, mask=mask))
    out["gen_jpeg"] = msgs

    msgs = []
    for bpv in (8, 16):
        msgs.append(encode(field(rng, n, 0, 100), pl, g, [("shortName", "r"), ("level", 1000)],
                           packing="grid_png", bpv=bpv))
    msgs.append(encode(field(rng, n, 0, 100), pl, g, [("shortName", "r"), ("level", 925)],
                       packing="grid_png", bpv=8, mask=mask))
    out["gen_png"] = [m for m in msgs if m is not None]

    msgs = []
    for bpv in (3, 8, 11, 16, 21, 24, 27, 32):
        msgs.append(encode(field(rng, n, -5, 40), sfc, g, [("shortName", "sst")],
                           packing="grid_ccsds", bpv=bpv))
    msgs.append(encode(field(rng, n, -5, 40), sfc, g, [("shortName", "sst")],
                       packing="grid_ccsds", bpv=14, mask=mask))
    out["gen_ccsds"] = msgs

    # Grids: south-to-north lat/lon starting at 180, regular and reduced Gaussian, Lambert.
    g2 = ll_grid(72, 37, -90, 180, 90, 175, south_to_north=True)
    out["gen_grid_ll_s2n"] = [encode(field(rng, 72 * 37, 0, 1), sfc, g2, [("shortName", "lsm")],
                                     bpv=8)]
    out["gen_grid_regular_gg"] = [encode(field(rng, 128 * 64, 200, 300), "regular_gg_pl_grib2",
                                         (), [("shortName", "t"), ("level", 500)], bpv=12)]
    out["gen_grid_reduced_gg"] = [encode(field(rng, 6114, 200, 300), "reduced_gg_pl_32_grib2",
                                         (), [("shortName", "t"), ("level", 500)], bpv=12,
                                         packing="grid_complex")]
    out["gen_grid_lambert"] = [encode(field(rng, 93 * 65, 200, 300), "GRIB2",
                                      lambert_grid(93, 65), [("paramId", 167)], bpv=12)]
    return out


def view_file(rng):
    """Messages that exercise cfgrib's hypercube rules: members x times x steps x levels with a
    hole and a duplicated field, the same parameter on two grids (split by numberOfPoints),
    steps in minutes and hours, max/accum/instant step types, an ensemble and a deterministic
    parameter on the same level type."""
    g = ll_grid(24, 13, 60, -30, 0, 39)
    g2 = ll_grid(12, 7, 60, -30, 0, 36)
    n, n2 = 24 * 13, 12 * 7
    msgs = []
    pl = "regular_ll_pl_grib2"
    sfc = "regular_ll_sfc_grib2"
    for date, time in ((20240301, 0), (20240301, 1200)):
        for step in (0, 6, 12):
            for member in (0, 1):
                for lev in (850, 500, 300):
                    if (date, time, step, member, lev) == (20240301, 1200, 6, 1, 500):
                        continue  # a hole
                    keys = [("dataDate", date), ("dataTime", time),
                            ("productDefinitionTemplateNumber", 1), ("typeOfEnsembleForecast", 3),
                            ("perturbationNumber", member), ("numberOfForecastsInEnsemble", 2),
                            ("shortName", "t"), ("level", lev), ("step", step)]
                    msgs.append(encode(field(rng, n, 210, 300), pl, g, keys, bpv=12))
            msgs.append(encode(field(rng, n2, 210, 300), pl, g2,
                               [("dataDate", date), ("dataTime", time), ("shortName", "t"),
                                ("level", 200), ("step", step)], bpv=12))
            msgs.append(encode(field(rng, n, -30, 30), pl, g,
                               [("dataDate", date), ("dataTime", time), ("shortName", "u"),
                                ("level", 850), ("step", step)], bpv=12))
    # The same field twice (cfgrib keeps one).
    msgs.append(msgs[3])
    # Steps in minutes and hours on one variable.
    for minutes in (30, 90, 120, 360):
        h = ec.codes_grib_new_from_samples(sfc)
        try:
            for k, v in g:
                ec.codes_set(h, k, v)
            ec.codes_set_string(h, "shortName", "2t")
            ec.codes_set(h, "indicatorOfUnitOfTimeRange", 0)
            ec.codes_set(h, "forecastTime", minutes)
            ec.codes_set_double_array(h, "values", field(rng, n, 260, 300))
            msgs.append(ec.codes_get_message(h))
        finally:
            ec.codes_release(h)
    for step in (6, 12):
        msgs.append(encode(field(rng, n, 270, 310), "GRIB2", g,
                           [("productDefinitionTemplateNumber", 8), ("paramId", 201),
                            ("typeOfStatisticalProcessing", 2), ("stepRange", f"{step - 6}-{step}")],
                           bpv=12))
        msgs.append(encode(field(rng, n, 0, 0.01 * step), sfc, g,
                           [("productDefinitionTemplateNumber", 8), ("paramId", 228),
                            ("typeOfStatisticalProcessing", 1), ("stepRange", f"0-{step}")],
                           bpv=10))
    order = rng.permutation(len(msgs))
    return [msgs[i] for i in order]


# --------------------------------------------------------------------------- cfgrib's view
# (as ../shared/fixtures/grib/make_refs.py records it)

def stats(a):
    a = np.asarray(a, dtype=np.float64).ravel()
    v = a[~np.isnan(a)]
    r = {"count": int(v.size), "nan_count": int(a.size - v.size)}
    if v.size:
        r.update(min=float(v.min()), max=float(v.max()), sum=float(v.sum()))
    else:
        r.update(min=None, max=None, sum=0.0)
    return r


def sha256_of(a, dtype):
    a = np.array(a, dtype=dtype)
    a[np.isnan(a)] = np.nan
    return hashlib.sha256(a.astype(np.dtype(dtype).newbyteorder("<")).tobytes()).hexdigest()


def coord_ref(c):
    a = np.asarray(c.values)
    r = {"dims": list(c.dims), "shape": list(a.shape), "dtype": str(a.dtype)}
    if a.dtype.kind == "M":
        vals = [str(x) for x in np.datetime_as_string(a.ravel(), unit="s")]
    elif a.dtype.kind == "m":
        vals = [float(x) for x in (a.ravel() / np.timedelta64(1, "s"))]
    else:
        vals = [float(x) for x in a.ravel().astype(np.float64)]
    if len(vals) <= 64:
        r["values"] = vals
    else:
        r["first"], r["last"] = vals[0], vals[-1]
        if a.dtype.kind in "fiu":
            r["sha256_f64"] = sha256_of(a, np.float64)
    return r


def cfgrib_view(path):
    """One entry per (open_datasets dataset, typeOfLevel, stepType) group, or per variable when
    that (typeOfLevel, stepType) is in several datasets."""
    warnings.simplefilter("ignore")
    dss = cfgrib.open_datasets(path, backend_kwargs={"indexpath": ""})
    owners = {}
    for k, ds in enumerate(dss):
        for n in ds.data_vars:
            a = ds[n].attrs
            owners.setdefault((a["GRIB_typeOfLevel"], a["GRIB_stepType"]), set()).add(k)
    out = []
    for k, ds in enumerate(dss):
        groups = {}
        for n in ds.data_vars:
            a = ds[n].attrs
            groups.setdefault((a["GRIB_typeOfLevel"], a["GRIB_stepType"]), []).append(n)
        for (tol, st), names in groups.items():
            sets = [names] if owners[(tol, st)] == {k} else [[n] for n in names]
            for ns in sets:
                sub = ds[ns]
                ent = {"filter_by_keys": {"typeOfLevel": tol, "stepType": st},
                       "dims": {d: int(s) for d, s in sub.sizes.items()},
                       "data_vars": {}, "coords": {}}
                for n in ns:
                    da = sub[n]
                    v = np.asarray(da.values)
                    ent["data_vars"][n] = {
                        "dims": list(da.dims), "shape": list(da.shape), "stats": stats(v),
                        "values_sha256_f32": sha256_of(v, np.float32),
                        "GRIB_paramId": int(da.attrs.get("GRIB_paramId", 0)),
                        "GRIB_shortName": da.attrs.get("GRIB_shortName"),
                        "GRIB_typeOfLevel": da.attrs.get("GRIB_typeOfLevel"),
                        "GRIB_stepType": da.attrs.get("GRIB_stepType"),
                        "GRIB_gridType": da.attrs.get("GRIB_gridType")}
                for c in sub.coords:
                    ent["coords"][c] = coord_ref(sub[c])
                out.append(ent)
    return out


# --------------------------------------------------------------------------- multi-field

def sections(msg):
    """(number, bytes) of each section after the indicator, the end marker excluded."""
    out = []
    pos = 16
    while msg[pos:pos + 4] != b"7777":
        length = int.from_bytes(msg[pos:pos + 4], "big")
        out.append((msg[pos + 4], msg[pos:pos + length]))
        pos += length
    return out


def assemble(parts):
    body = b"".join(parts)
    total = 16 + len(body) + 4
    return b"GRIB\x00\x00\x00\x02" + total.to_bytes(8, "big") + body + b"7777"


def multi_field(rng):
    g = ll_grid(90, 46, 90, 0, -90, 356)
    n = 90 * 46
    mask = field(rng, n, 0, 1) > 0.6
    pl = "regular_ll_pl_grib2"
    a = encode(field(rng, n, 200, 300), pl, g, [("shortName", "t"), ("level", 850)], bpv=12)
    b = encode(field(rng, n, -20, 20), pl, g, [("shortName", "u"), ("level", 850)],
               packing="grid_complex_spatial_differencing", bpv=11, mask=mask)
    c = encode(field(rng, n, -20, 20), pl, g, [("shortName", "v"), ("level", 850)],
               packing="grid_ccsds", bpv=14, mask=mask)
    g2 = ll_grid(36, 19, 90, 0, -90, 350)
    d = encode(field(rng, 36 * 19, 0, 0.01), pl, g2, [("shortName", "q"), ("level", 500)], bpv=10)
    sa, sb, sc, sd = (dict(sections(m)) for m in (a, b, c, d))
    # Section 3-7 repeated (a second grid), 4-7 repeated, and a 254 bitmap.
    m1 = assemble([sa[1], sa[3], sa[4], sa[5], sa[6], sa[7],
                   sb[4], sb[5], sb[6], sb[7],
                   sc[4], sc[5], b"\x00\x00\x00\x06\x06\xfe", sc[7],
                   sd[3], sd[4], sd[5], sd[6], sd[7]])
    # 2-7 repeated: a local section before each field (ECMWF sample has one).
    return [m1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--shared", help="the shared GRIB fixtures; their multi-field messages are "
                                     "read field by field too")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(SEED)
    all_files = files(rng)
    all_files["gen_multi_field"] = multi_field(rng)
    all_files["gen_view"] = view_file(rng)
    manifest = {"eccodes": ec.codes_get_api_version(), "files": []}
    ec.codes_grib_multi_support_on()
    try:
        jobs = []
        for name, msgs in sorted(all_files.items()):
            path = os.path.join(a.out, name + ".grib2")
            with open(path, "wb") as f:
                for m in msgs:
                    f.write(m)
            jobs.append((name, path))
        if a.shared:
            # JMA's nowcast holds 7 fields in one message.
            jobs.append(("shared_jma_nowcast_runlength",
                         os.path.join(a.shared, "jma_nowcast_runlength.grib2")))
        for name, path in jobs:
            entry = {"file": os.path.relpath(path, a.out), "fields": [],
                     "cfgrib": cfgrib_view(path) if name.startswith("gen_") else None}
            ec.codes_grib_multi_support_on()  # (cfgrib turns it off)
            with open(path, "rb") as f:
                k = 0
                while True:
                    h = ec.codes_grib_new_from_file(f)
                    if h is None:
                        break
                    try:
                        keys = {key: get(h, key) for key in KEYS}
                        ec.codes_set_double(h, "missingValue", MISSING)
                        vals = ec.codes_get_double_array(h, "values").astype(np.float64)
                        vals[vals == MISSING] = np.nan
                        vname = f"{name}.{k}.values.f64"
                        vals.astype("<f8").tofile(os.path.join(a.out, vname))
                        rec = {"field": k, "offset": int(ec.codes_get_long(h, "offset")),
                               "keys": keys, "values": vname}
                        grid_type = keys["gridType"]
                        if grid_type in ("regular_ll", "regular_gg"):
                            pairs = [("distinctLatitudes", "lat"), ("distinctLongitudes", "lon")]
                        else:
                            pairs = [("latitudes", "lat"), ("longitudes", "lon")]
                        for key, short in pairs:
                            arr = ec.codes_get_double_array(h, key).astype("<f8")
                            fname = f"{name}.{k}.{short}.f64"
                            arr.tofile(os.path.join(a.out, fname))
                            rec[short] = fname
                        entry["fields"].append(rec)
                    finally:
                        ec.codes_release(h)
                    k += 1
            manifest["files"].append(entry)
    finally:
        ec.codes_grib_multi_support_off()
    # ecCodes' Gaussian latitudes (computed, or its precomputed tables for N640 and N1280).
    manifest["gaussian"] = {}
    for order in (1, 32, 80, 160, 320, 640, 1280):
        raw = ec.codes_get_gaussian_latitudes(order)
        lats = np.array([raw[i] for i in range(2 * order)], dtype="<f8")
        fname = f"gaussian.{order}.f64"
        lats.tofile(os.path.join(a.out, fname))
        manifest["gaussian"][str(order)] = fname
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"make_grib_fixtures: {len(manifest['files'])} files in {a.out}")


if __name__ == "__main__":
    main()
