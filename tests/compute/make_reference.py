#!/usr/bin/env python3
"""Reference data for the compute-layer tests, computed with numpy (and exact Python integers).

Writes into --out:
  manifest.json   every case: its input file, dtype, shape, box, options and expected results
  *.npy           the inputs (one decoded chunk or one whole array per case) and, for axis
                  reductions, numpy's per-cell results

Conventions of manifest.json: floats are written as repr() strings ("nan", "inf", "-1.5e-07")
so that NaN and infinities survive JSON and every float64 round-trips exactly; exact integers
(sums, mins and maxes of integer data) are decimal strings.

What the references are:
  * float data: numpy's NaN-skipping reductions on the data converted to float64 (np.nanmin,
    nanmax, nansum, nanmean, nanstd with ddof 0 and 1), with missing values turned into NaN
    first (as xarray's CF decoding does). Sums, means and standard deviations are computed with
    numpy's semantics but exactly rounded sums (math.fsum, two-pass variance), and checked to
    agree with numpy's own values to 1e-6: numpy's summation along non-contiguous axes is naive
    and loses more digits on data like 1e8 + noise than the tolerances under test allow.
  * bool and integer data: exact, with Python integers and fractions: the sum is the exact
    integer (numpy's int64 nansum would wrap), the mean is sum/count rounded once, and the
    variance is (n * sum(x^2) - sum(x)^2) / n^2 computed exactly, then rounded.
  * histograms: np.histogram(values, bins, range=(lo, hi)) and its edges, with lo and hi
    scalars of the data's float type (as np.histogram's default range, min and max, is; numpy
    then computes the edges in that type) or Python floats for integers; for "decoded" cases,
    of the values decoded as xarray decodes CF scale_factor/add_offset, in the decoded type.
  * axis reductions: np.nanmean(..., axis=...), nanstd (ddof 0 and 1), nanmin, nanmax, nansum
    and the per-cell counts over a selection of a whole array (with the precise sums above); the
    C++ test cuts the array into (padded) chunks itself. One .npy per case holds the stacked
    per-cell results in the order count, nan_count, min, max, sum, mean, std0, std1, mean_abs
    (min and max NaN for an empty selection).

Deterministic: a fixed seed (--seed to try others).
"""

import argparse
import json
import math
import os
import warnings
from fractions import Fraction

import numpy as np

DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64"]
FLOATS = {"float16", "float32", "float64"}


def fstr(x):
    return repr(float(x))


class Writer:
    def __init__(self, out):
        self.out = out
        self.counter = 0
        os.makedirs(out, exist_ok=True)

    def save(self, prefix, array):
        self.counter += 1
        name = f"{prefix}_{self.counter:04d}.npy"
        np.save(os.path.join(self.out, name), np.array(array, order="C", copy=True))
        return name


# ------------------------------------------------------------------------------ missing values

def missing_json(missing):
    """missing: None or dict(fill_value=(kind, value), missing_value=(kind, value))."""
    if not missing:
        return None
    out = {}
    for key, (kind, value) in missing.items():
        out[key] = {"kind": kind, "value": str(value) if kind != "float" else fstr(value)}
    return out


def missing_mask(data, missing):
    """Elements equal to a missing value, matched the way xarray matches: the value converted
    to the array's dtype (values that do not fit match nothing)."""
    mask = np.zeros(data.shape, dtype=bool)
    if not missing:
        return mask
    dt = data.dtype
    for kind, value in missing.values():
        if dt.kind in "biu":
            if kind == "float":
                if not math.isfinite(value) or value != math.floor(value):
                    continue
                value = int(value)
            info = (0, 1) if dt.kind == "b" else (np.iinfo(dt).min, np.iinfo(dt).max)
            if not (info[0] <= int(value) <= info[1]):
                continue
            mask |= data == dt.type(value)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                v = np.array(float(value)).astype(dt)
            if np.isnan(v) or (np.isinf(v) and math.isfinite(float(value))):
                continue
            mask |= data == v
    return mask


# ------------------------------------------------------------------------------------ statistics

def exact_int_stats(vals):
    ints = [int(v) for v in vals.ravel().tolist()]
    n = len(ints)
    s = sum(ints)
    ss = sum(v * v for v in ints)
    res = {"count": str(n), "sum": str(s)}
    if n == 0:
        res.update(min="nan", max="nan", mean="nan", std0="nan", std1="nan", mean_abs="0")
        return res
    res["min"] = str(min(ints))
    res["max"] = str(max(ints))
    res["mean"] = fstr(Fraction(s, n))
    n_m2 = n * ss - s * s  # n^2 * var0
    res["std0"] = fstr(math.sqrt(Fraction(n_m2, n * n)))
    res["std1"] = fstr(math.sqrt(Fraction(n_m2, n * (n - 1)))) if n > 1 else "nan"
    res["mean_abs"] = fstr(Fraction(sum(abs(v) for v in ints), n))
    return res


def precise_moments(values):
    """Sum, mean, std (ddof 0 and 1) and mean(|x|) of float64 values (NaN already removed) with
    numpy's semantics for infinities, but exactly rounded sums (math.fsum) and a two-pass
    variance: numpy's own nanstd sums naively along non-contiguous axes and loses ~1e-8 of the
    standard deviation on data like 1e8 + noise, more than the tolerance under test."""
    n = len(values)
    if n == 0:
        return 0.0, math.nan, math.nan, math.nan, 0.0
    if not np.all(np.isfinite(values)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            total = float(np.sum(values))  # inf, -inf or nan, as numpy
        return total, total / n, math.nan, math.nan, math.inf
    total = math.fsum(values.tolist())
    mean = total / n
    dev = values - mean
    # mean is the rounded exact mean; the fsum of the deviations corrects for that rounding.
    m2 = math.fsum((dev * dev).tolist()) - math.fsum(dev.tolist()) ** 2 / n
    m2 = max(m2, 0.0)
    std1 = math.sqrt(m2 / (n - 1)) if n > 1 else math.nan
    return total, mean, math.sqrt(m2 / n), std1, math.fsum(np.abs(values).tolist()) / n


def neumaier_rows(a):
    """Sums along axis 1 of finite values to about 1 ulp: exactly rounded (math.fsum) for long
    rows, compensated (Neumaier) and vectorised over the rows for many short ones."""
    if a.shape[1] > a.shape[0]:
        return np.array([math.fsum(r.tolist()) for r in a], dtype=np.float64)
    s = np.zeros(a.shape[0])
    c = np.zeros(a.shape[0])
    for j in range(a.shape[1]):
        x = a[:, j]
        t = s + x
        c += np.where(np.abs(s) >= np.abs(x), (s - t) + x, (x - t) + s)
        s = t
    return s + c


def precise_rows(rows):
    """precise_moments for every row of a (cells, k) array holding NaN where not counted, with
    compensated instead of exactly rounded sums (vectorised over the cells)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        valid = ~np.isnan(rows)
        n = valid.sum(axis=1).astype(np.float64)
        z = np.where(valid, rows, 0.0)
        finite = np.all(np.isfinite(z), axis=1)
        zf = np.where(finite[:, None], z, 0.0)
        total = neumaier_rows(zf)
        mean = total / n
        dev = np.where(valid & finite[:, None], rows - mean[:, None], 0.0)
        m2 = np.maximum(neumaier_rows(dev * dev) - neumaier_rows(dev) ** 2 / n, 0.0)
        out = np.empty((rows.shape[0], 5))
        out[:, 0] = np.where(finite, total, np.sum(z, axis=1))
        out[:, 1] = np.where(finite, mean, out[:, 0] / n)
        out[:, 2] = np.where(finite & (n > 0), np.sqrt(m2 / n), np.nan)
        out[:, 3] = np.where(finite & (n > 1), np.sqrt(m2 / (n - 1)), np.nan)
        out[:, 4] = np.where(n > 0, neumaier_rows(np.abs(zf)) / n, 0.0)
        out[:, 4] = np.where(finite, out[:, 4], np.inf)
    return out


def check_against_numpy(x, precise, axis=None):
    """The precise reference and numpy's nan-functions must agree to 1e-6 (a sanity check of
    the reference itself; numpy's summation is the less precise of the two)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = np.asarray(precise, dtype=np.float64)
        theirs = np.asarray([np.nansum(x, axis=axis), np.nanmean(x, axis=axis),
                             np.nanstd(x, axis=axis), np.nanstd(x, axis=axis, ddof=1)])
    close = np.isclose(ours, theirs, rtol=1e-6, atol=0, equal_nan=True)
    tiny = np.abs(theirs) <= 1e-9 * np.maximum(np.abs(ours), 1.0)  # a zero computed as 1e-17
    assert np.all(close | tiny), (ours, theirs)


def float_stats(x):
    """x: float64 values with NaN where not counted."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        valid = ~np.isnan(x)
        n = int(valid.sum())
        total, mean, std0, std1, mean_abs = precise_moments(x[valid])
        check_against_numpy(x, [total, mean, std0, std1])
        res = {"count": str(n), "sum": fstr(total)}
        if n == 0:
            res.update(min="nan", max="nan", mean="nan", std0="nan", std1="nan", mean_abs="0")
            return res
        res["min"] = fstr(np.nanmin(x))
        res["max"] = fstr(np.nanmax(x))
        res["mean"] = fstr(mean)
        res["std0"] = fstr(std0)
        res["std1"] = fstr(std1)
        res["mean_abs"] = fstr(mean_abs)
    return res


def box_slices(start, stop):
    return tuple(slice(a, b) for a, b in zip(start, stop))


def random_box(rng, shape):
    start, stop = [], []
    for e in shape:
        a = int(rng.integers(0, e + 1))
        b = int(rng.integers(a, e + 1))
        start.append(a)
        stop.append(b)
    return start, stop


def random_values(rng, dtype, size, flavour):
    dt = np.dtype(dtype)
    if dtype == "bool":
        return rng.random(size) < 0.3
    if dt.kind in "iu":
        info = np.iinfo(dt)
        if flavour == "full":
            return rng.integers(info.min, info.max, size=size, dtype=dt, endpoint=True)
        if flavour == "extremes":
            pool = np.array([info.min, info.max, info.min + 1, info.max - 1, 0], dtype=dt)
            return pool[rng.integers(0, len(pool), size=size)]
        if flavour == "near_max":  # tiny variance next to the largest value
            return (np.full(size, info.max, dtype=dt) - rng.integers(0, 3, size=size).astype(dt))
        if flavour == "near_min":
            return (np.full(size, info.min, dtype=dt) + rng.integers(0, 3, size=size).astype(dt))
        lo = max(info.min, -1000) if dt.kind == "i" else 0
        return rng.integers(lo, min(info.max, 3000), size=size, dtype=dt, endpoint=True)
    # floats
    if flavour == "offset_small_var":  # where sum-of-squares formulas lose every digit
        base = {"float64": 1e8, "float32": 1e4, "float16": 1000.0}[dtype]
        noise = {"float64": 1e-3, "float32": 1e-2, "float16": 1.0}[dtype]
        return (base + rng.normal(0, noise, size)).astype(dt)
    if flavour == "wide":
        top = {"float16": 3.5, "float32": 30.0, "float64": 100.0}[dtype]
        return (rng.normal(0, 1, size) * 10.0 ** rng.uniform(-top, top, size)).astype(dt)
    if flavour == "centred":
        return rng.normal(0.0, 3.0, size).astype(dt)
    return rng.normal(5.0, 3.0, size).astype(dt)


def sprinkle(rng, data, what, frac):
    flat = data.reshape(-1)
    if flat.size == 0:
        return data
    k = max(1, int(flat.size * frac))
    idx = rng.choice(flat.size, size=min(k, flat.size), replace=False)
    if what == "nan":
        flat[idx] = np.nan
    elif what == "inf":
        flat[idx[: len(idx) // 2 + 1]] = np.inf
    elif what == "both_inf":
        flat[idx[: len(idx) // 2 + 1]] = np.inf
        flat[idx[len(idx) // 2 + 1:]] = -np.inf
    return data


def random_shape(rng, rank, max_elems):
    while True:
        shape = [int(rng.integers(1, 9 if rank > 2 else 300)) for _ in range(rank)]
        if rank == 1:
            shape = [int(rng.integers(1, max_elems))]
        if np.prod(shape) <= max_elems:
            return shape


def stats_cases(rng, w):
    cases = []

    def add(name, data, start=None, stop=None, missing=None):
        shape = list(data.shape)
        if start is None:
            start, stop = [0] * len(shape), shape[:]
        sel = data[box_slices(start, stop)] if shape else data
        mask = missing_mask(sel, missing)
        if data.dtype.kind in "biu":
            vals = sel[~mask]
            exp = exact_int_stats(vals)
        else:
            x = sel.astype(np.float64)
            x[mask] = np.nan
            exp = float_stats(x)
        exp["nan_count"] = str(int(sel.size) - int(exp["count"]))
        cases.append({"name": name, "file": w.save("stats", data), "dtype": str(data.dtype),
                      "shape": shape, "box_start": start, "box_stop": stop,
                      "missing": missing_json(missing), "expect": exp})

    for dtype in DTYPES:
        dt = np.dtype(dtype)
        flavours = ["normal"]
        if dt.kind in "iu":
            flavours += ["full", "extremes", "near_max", "near_min"]
        if dt.kind == "f":
            flavours += ["offset_small_var", "wide", "centred"]
        for flavour in flavours:
            for rank in (1, 2, 3, 4, 5):
                shape = random_shape(rng, rank, 20000)
                data = random_values(rng, dtype, int(np.prod(shape)), flavour).reshape(shape)
                add(f"{dtype}/{flavour}/rank{rank}/whole", data)
                start, stop = random_box(rng, shape)
                add(f"{dtype}/{flavour}/rank{rank}/box", data, start, stop)
        # Larger than a block, several blocks, odd length.
        for n in (70001, 262147):
            data = random_values(rng, dtype, n, flavours[-1] if dt.kind == "f" else "full")
            add(f"{dtype}/long{n}", data)
        # Edge cases of shape.
        data = random_values(rng, dtype, 24, "normal").reshape(2, 3, 4)
        add(f"{dtype}/empty_box", data, [1, 2, 0], [1, 3, 4])
        add(f"{dtype}/single", data, [1, 2, 3], [2, 3, 4])
        add(f"{dtype}/rank0", random_values(rng, dtype, 1, "normal").reshape(()))
        add(f"{dtype}/empty_chunk", random_values(rng, dtype, 0, "normal").reshape(0, 5))
        # Narrow boxes: runs of one element.
        data = random_values(rng, dtype, 40 * 33 * 7, "normal").reshape(40, 33, 7)
        add(f"{dtype}/column", data, [0, 5, 3], [40, 30, 4])
        if dt.kind == "f":
            for what, frac in (("nan", 0.1), ("nan", 0.9), ("inf", 0.01), ("both_inf", 0.01)):
                for n in (1000, 40000):
                    data = sprinkle(rng, random_values(rng, dtype, n, "normal"), what, frac)
                    add(f"{dtype}/{what}{frac}/{n}", data)
            data = np.full((17, 9), np.nan, dtype=dt)
            add(f"{dtype}/all_nan", data)
            data = sprinkle(rng, random_values(rng, dtype, 5000, "normal").reshape(50, 100),
                            "nan", 0.2)
            start, stop = random_box(rng, [50, 100])
            add(f"{dtype}/nan_box", data, start, stop)
            data = np.full(3001, 2.5, dtype=dt)
            add(f"{dtype}/constant", data)
    # Missing values (CF _FillValue / missing_value).
    data = random_values(rng, "int16", 30000, "normal")
    data[rng.choice(30000, 3000, replace=False)] = -9999
    data[rng.choice(30000, 100, replace=False)] = 32767
    add("int16/fill", data, missing={"fill_value": ("signed", -9999)})
    add("int16/fill+missing", data, missing={"fill_value": ("signed", -9999),
                                             "missing_value": ("float", 32767.0)})
    add("int16/fill_out_of_range", data, missing={"fill_value": ("signed", 99999)})
    data = random_values(rng, "uint8", 10000, "full")
    add("uint8/fill255+0", data, missing={"fill_value": ("unsigned", 255),
                                          "missing_value": ("signed", 0)})
    data = random_values(rng, "uint16", 10000, "full")
    data[::7] = 65535
    add("uint16/fill", data, missing={"fill_value": ("unsigned", 65535)})
    data = random_values(rng, "int8", 10000, "full")
    add("int8/fill-128", data, missing={"fill_value": ("signed", -128)})
    data = random_values(rng, "bool", 1000, "normal")
    add("bool/fill_true", data, missing={"fill_value": ("signed", 1)})
    for dtype, fill in (("float32", 9.969209968386869e36), ("float64", 9.969209968386869e36),
                        ("float16", -999.0)):
        data = sprinkle(rng, random_values(rng, dtype, 20000, "normal"), "nan", 0.05)
        data[rng.choice(20000, 2000, replace=False)] = np.array(fill).astype(dtype)
        data[rng.choice(20000, 500, replace=False)] = -1.0
        add(f"{dtype}/fill", data, missing={"fill_value": ("float", fill)})
        add(f"{dtype}/fill+missing", data, missing={"fill_value": ("float", fill),
                                                    "missing_value": ("signed", -1)})
    data = random_values(rng, "int32", 10000, "full")
    data[::5] = -2147483648
    add("int32/fill", data, missing={"fill_value": ("signed", -2147483648)})
    data = random_values(rng, "int64", 10000, "extremes")
    add("int64/fill_max", data, missing={"fill_value": ("signed", 2**63 - 1)})
    data = random_values(rng, "uint64", 10000, "extremes")
    add("uint64/fill_max", data, missing={"fill_value": ("unsigned", 2**64 - 1)})
    data = random_values(rng, "uint32", 10000, "full")
    data[::3] = 4294967295
    add("uint32/fill", data, missing={"fill_value": ("float", 4294967295.0)})
    return cases


def scale_offset_cases(rng, w):
    cases = []
    for scale, offset in ((0.01, 273.15), (-0.5, 10.0), (2.0, -1000.0)):
        raw = rng.integers(-20000, 20000, size=50000, dtype=np.int16)
        raw[rng.choice(50000, 500, replace=False)] = -32768
        decoded = raw.astype(np.float64) * scale + offset
        decoded[raw == -32768] = np.nan
        exp = float_stats(decoded)
        exp["nan_count"] = str(int(np.isnan(decoded).sum()))
        cases.append({"name": f"int16*{scale}+{offset}", "file": w.save("scaled", raw),
                      "dtype": "int16", "scale_factor": fstr(scale), "add_offset": fstr(offset),
                      "missing": missing_json({"fill_value": ("signed", -32768)}),
                      "expect": exp})
    return cases


# ------------------------------------------------------------------------------------ histograms

def histogram_cases(rng, w):
    cases = []

    def add(name, data, bins, lo, hi, missing=None, decoding=None):
        vals = data[~missing_mask(data, missing)]
        if decoding is not None:
            # xarray's _scale_offset_decoding: astype, then *= scale_factor, += add_offset, with
            # the attributes as Python floats (as JSON attributes are).
            vals = vals.astype(decoding["type"])
            if "scale" in decoding:
                vals *= decoding["scale"]
            if "offset" in decoding:
                vals += decoding["offset"]
        vt = vals.dtype
        if vt.kind == "f":
            lo, hi = vt.type(lo), vt.type(hi)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            counts, edges = np.histogram(vals, bins=bins, range=(lo, hi))
        case = {"name": name, "file": w.save("hist", data), "dtype": str(data.dtype),
                "shape": list(data.shape), "bins": bins, "lo": fstr(lo), "hi": fstr(hi),
                "missing": missing_json(missing),
                "counts": [str(int(c)) for c in counts],
                "edges": [fstr(e) for e in edges]}
        if decoding is not None:
            case["decoding"] = {k: (fstr(v) if k != "type" else v) for k, v in decoding.items()}
        cases.append(case)

    def add_default_range(name, data, bins, missing=None, decoding=None):
        """np.histogram(values, bins) with its default range, the values' min and max."""
        vals = data[~missing_mask(data, missing)]
        if decoding is not None:
            vals = vals.astype(decoding["type"])
            if "scale" in decoding:
                vals *= decoding["scale"]
            if "offset" in decoding:
                vals += decoding["offset"]
        vals = vals[~np.isnan(vals)] if vals.dtype.kind == "f" else vals
        add(name, data, bins, vals.min(), vals.max(), missing, decoding)

    for dtype in DTYPES:
        dt = np.dtype(dtype)
        data = random_values(rng, dtype, 20000, "normal" if dtype != "bool" else "normal")
        if dt.kind == "f":
            data = sprinkle(rng, data, "nan", 0.05)
            add(f"{dtype}/normal", data, 37, -2.0, 11.5)
            # Values sitting exactly on the edges, in the bin type.
            edges = np.linspace(-1.0, 3.0, 17).astype(dt)
            on_edges = np.concatenate([np.repeat(edges, 5), data[:1000]])
            add(f"{dtype}/on_edges", on_edges, 16, -1.0, 3.0)
            add(f"{dtype}/on_edges_odd", on_edges, 7, -1.0, 3.0)
            add(f"{dtype}/inf", sprinkle(rng, data.copy(), "both_inf", 0.01), 10, 0.0, 10.0)
        elif dtype == "bool":
            add("bool/2", data, 2, 0.0, 1.0)
            add("bool/3", data, 3, -0.5, 1.5)
        else:
            info = np.iinfo(dt)
            add(f"{dtype}/integral_edges", data, 10, 0.0, 10.0)
            add(f"{dtype}/fine", data, 1000, -100.5, 2900.5)
            full = random_values(rng, dtype, 5000, "full")
            add(f"{dtype}/full", full, 64, float(info.min), float(info.max))
            add(f"{dtype}/narrow", full, 3, 0.0, 0.0)  # lo == hi widens by 0.5
    data = random_values(rng, "int16", 5000, "normal")
    data[::11] = -9999
    add("int16/fill", data, 20, -1000.0, 3000.0, missing={"fill_value": ("signed", -9999)})
    data = random_values(rng, "float32", 5000, "normal")
    data[::13] = np.float32(9.969209968386869e36)
    add("float32/fill", data, 20, -1e38, 1e38,
        missing={"fill_value": ("float", 9.969209968386869e36)})

    # The default range in float16 and float32: numpy computes the edges in that type (not in
    # float64 and then rounded), and values equal to those edges go where numpy puts them.
    for dtype, bins in (("float16", 7), ("float16", 300), ("float32", 1000), ("float32", 99991)):
        dt = np.dtype(dtype)
        data = (random_values(rng, "float64", 20000, "normal") * 3 + 12.3).astype(dt)
        data = sprinkle(rng, data, "nan", 0.02)
        valid = data[~np.isnan(data)]
        _, edges = np.histogram(valid, bins=bins)
        add_default_range(f"{dtype}/default_range/{bins}",
                          np.concatenate([data, edges.astype(dt), edges[1:-1].astype(dt)]), bins)
    # Many float16 bins over a wide range: numpy's first guess of a bin can be off by more than
    # one there, and its one-step correction then leaves the value in a neighbouring bin, which
    # the histogram must reproduce. (Data drawn until that happens.)
    for _ in range(1000):
        data = (rng.standard_normal(2000) * 300 + 20).astype(np.float16)
        try:
            counts, edges = np.histogram(data, bins=1000)
        except ValueError:  # "Too many bins for data range"
            continue
        by_edges = np.minimum(np.searchsorted(edges, data, side="right") - 1, 999)
        if not np.array_equal(np.bincount(by_edges, minlength=1000), counts):
            break
    else:
        raise RuntimeError("no float16 data found where numpy's bins differ from the edges'")
    add_default_range("float16/guess_off_by_more_than_one", data, 1000)
    # CF decoding as xarray does it: int16 masked only (float32), and scaled (float64).
    raw = rng.integers(-3000, 3000, size=20000, dtype=np.int16)
    raw[::17] = -32767
    fill = {"fill_value": ("signed", -32767)}
    add_default_range("int16/decoded_float32", raw, 1000, fill, {"type": "float32"})
    for scale, offset in ((0.05, 1000.0), (-0.01, 273.15), (3.0, None)):
        dec = {"type": "float64", "scale": scale}
        if offset is not None:
            dec["offset"] = offset
        add_default_range(f"int16/decoded*{scale}+{offset}", raw, 333, fill, dec)
    return cases


# -------------------------------------------------------------------------------- axis reductions

def reduction_cases(rng, w):
    cases = []

    def add(name, data, chunk, sel_start, sel_stop, axes, missing=None):
        sel = data[box_slices(sel_start, sel_stop)]
        mask = missing_mask(sel, missing)
        x = sel.astype(np.float64)
        x[mask] = np.nan
        axes_t = tuple(axes)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            valid = ~np.isnan(x)
            kept = [i for i in range(x.ndim) if i not in axes_t]
            kept_shape = tuple(x.shape[i] for i in kept)
            cells = int(np.prod(kept_shape))
            # Each cell's values in a row: kept axes first, reduced axes flattened last.
            rows = np.transpose(x, kept + list(axes_t)).reshape(
                cells, int(np.prod([x.shape[i] for i in axes_t])))
            moments = precise_rows(rows).reshape(kept_shape + (5,))
            check_against_numpy(x, np.moveaxis(moments[..., :4], -1, 0), axis=axes_t)
            empty = np.full(kept_shape, np.nan)
            results = [
                valid.sum(axis=axes_t).astype(np.float64),       # count
                (~valid).sum(axis=axes_t).astype(np.float64),    # nan_count
                np.nanmin(x, axis=axes_t) if x.size else empty,  # min
                np.nanmax(x, axis=axes_t) if x.size else empty,  # max
                moments[..., 0],                                 # sum
                moments[..., 1],                                 # mean
                moments[..., 2],                                 # std0
                moments[..., 3],                                 # std1
                moments[..., 4],                                 # mean_abs
            ]
        expect = w.save("red_expect", np.stack([np.asarray(r, dtype=np.float64)
                                                for r in results]))
        cases.append({"name": name, "file": w.save("red", data), "dtype": str(data.dtype),
                      "array_shape": list(data.shape), "chunk_shape": chunk,
                      "sel_start": sel_start, "sel_stop": sel_stop, "reduced_axes": axes,
                      "missing": missing_json(missing), "expect": expect})

    # The shape of the use case: (time, y, x) reduced over time, and the other combinations.
    for dtype in ("float32", "float64", "int16", "uint8", "int64", "float16", "bool", "uint32"):
        shape = [20, 37, 70]
        data = random_values(rng, dtype, int(np.prod(shape)),
                             "normal").reshape(shape)
        if np.dtype(dtype).kind == "f":
            data = sprinkle(rng, data, "nan", 0.1)
            data[:, 3, 5] = np.nan  # an all-NaN cell when reducing over time
        chunk = [8, 16, 32]
        for axes in ([0], [2], [1, 2], [0, 1], [0, 2], [0, 1, 2], [], [1]):
            add(f"{dtype}/tyx/axes{axes}", data, chunk, [0, 0, 0], shape, axes)
        sel_start, sel_stop = [3, 5, 9], [19, 30, 61]
        for axes in ([0], [2], [1, 2]):
            add(f"{dtype}/tyx/sel/axes{axes}", data, chunk, sel_start, sel_stop, axes)
    # Random ranks 1-5, random chunking, selections and axes.
    for i in range(40):
        dtype = DTYPES[i % len(DTYPES)]
        rank = 1 + i % 5
        shape = [int(rng.integers(1, 12 if rank > 2 else 60)) for _ in range(rank)]
        data = random_values(rng, dtype, int(np.prod(shape)),
                             "offset_small_var" if dtype in FLOATS and i % 3 == 0
                             else "normal").reshape(shape)
        if dtype in FLOATS:
            data = sprinkle(rng, data, "nan", 0.15)
        chunk = [int(rng.integers(1, e + 3)) for e in shape]
        sel_start, sel_stop = random_box(rng, shape)
        axes = sorted(a for a in range(rank) if rng.random() < 0.5)
        add(f"{dtype}/random{i}/rank{rank}/axes{axes}", data, chunk, sel_start, sel_stop, axes)
    # Many chunks along the reduced axis, so every cell goes through a long chain of merges, on
    # data where the mean is 1e11 standard deviations away from zero.
    data = random_values(rng, "float64", 400 * 3 * 50, "offset_small_var").reshape(400, 3, 50)
    add("float64/offset/many_chunks/axes[0]", data, [4, 3, 16], [0, 0, 0], [400, 3, 50], [0])
    data = random_values(rng, "float64", 3 * 5 * 2000, "offset_small_var").reshape(3, 5, 2000)
    add("float64/offset/many_chunks/axes[2]", data, [3, 5, 16], [0, 0, 0], [3, 5, 2000], [2])
    data = random_values(rng, "float32", 3 * 5 * 2000, "offset_small_var").reshape(3, 5, 2000)
    add("float32/offset/many_chunks/axes[1,2]", data, [2, 2, 50], [0, 0, 0], [3, 5, 2000],
        [1, 2])
    # Long reduced axis (more rows than one kernel batch), and missing values.
    data = random_values(rng, "float32", 300 * 4 * 21, "offset_small_var").reshape(300, 4, 21)
    add("float32/long_time", data, [300, 4, 8], [0, 0, 0], [300, 4, 21], [0])
    data = random_values(rng, "int16", 300 * 3 * 45, "normal").reshape(300, 3, 45)
    add("int16/long_time", data, [300, 2, 40], [0, 0, 0], [300, 3, 45], [0])
    data = random_values(rng, "float64", 300 * 3 * 45, "wide").reshape(300, 3, 45)
    add("float64/long_time/missing", sprinkle(rng, data, "nan", 0.1), [300, 2, 40], [0, 0, 0],
        [300, 3, 45], [0], missing={"fill_value": ("float", float(data[5, 1, 7]))})
    data = random_values(rng, "int16", 12 * 9 * 11, "normal").reshape(12, 9, 11)
    data[data % 7 == 0] = -9999
    add("int16/fill/axes[0]", data, [5, 4, 4], [0, 0, 0], [12, 9, 11], [0],
        missing={"fill_value": ("signed", -9999)})
    add("int16/fill/axes[2]", data, [5, 4, 4], [0, 0, 0], [12, 9, 11], [2],
        missing={"fill_value": ("signed", -9999)})
    data = random_values(rng, "float32", 12 * 9 * 11, "normal").reshape(12, 9, 11)
    data[::2, ::3] = np.float32(-1.0)
    add("float32/missing/axes[0]", data, [5, 4, 4], [0, 0, 0], [12, 9, 11], [0],
        missing={"missing_value": ("float", -1.0)})
    return cases


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=20240611)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    w = Writer(args.out)
    manifest = {
        "stats": stats_cases(rng, w),
        "scale_offset": scale_offset_cases(rng, w),
        "histograms": histogram_cases(rng, w),
        "reductions": reduction_cases(rng, w),
    }
    tmp = os.path.join(args.out, "manifest.json.tmp")
    with open(tmp, "w") as f:
        json.dump(manifest, f)
    os.replace(tmp, os.path.join(args.out, "manifest.json"))
    print(f"wrote {w.counter} arrays and manifest.json to {args.out}")


if __name__ == "__main__":
    main()
