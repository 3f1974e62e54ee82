#!/usr/bin/env python3
"""GRIB2 as a dataset, end to end (issue 15's benchmark): on files of ~300 messages of
1440x721 fields written here with ecCodes (GFS-like: complex packing with spatial
differencing, 5.3; IFS-like: CCSDS, 5.42), page cache warm, in one run:

  open     `lsio info FILE --json` (a whole process) against
           cfgrib.open_datasets(path, backend_kwargs={"indexpath": ""}) (in this process, after
           a first call that imports and warms cfgrib); wall seconds.
  decode   `lsio stats FILE --threads 1` (a whole process; CPU seconds of the child) against a
           single-thread ecCodes loop (codes_grib_new_from_file + codes_get_values +
           codes_release; CPU seconds of this process).
  cores    `lsio stats FILE` with every core (wall seconds) against the same ecCodes loop's
           wall seconds.
  archive  `lsio info DIR` on a directory of small files (one message each, a few thousand of
           them: --archive-files) against cfgrib.open_datasets on a tenth of them (cfgrib's time
           per file is what scales).

    run_grib_dataset_bench.py --lsio BUILD/bin/lsio --work-dir DIR [--markdown OUT.md]

The machine is shared: every ratio is taken from measurements of the same run, each side the
best of --repeat.
"""
import argparse
import json
import os
import resource
import subprocess
import time
import warnings

import numpy as np

import eccodes as ec

NI, NJ = 1440, 721
PARAMS = ["t", "u", "v", "gh", "r", "q"]
LEVELS = [1000, 975, 950, 925, 900, 875, 850, 825, 800, 775, 750, 700, 650, 600, 550, 500, 450,
          400, 350, 300, 250, 225, 200, 175, 150, 125, 100, 70, 50, 30, 20, 10, 7, 5, 3, 2, 1,
          0.7, 0.5, 0.4, 0.3, 0.2, 0.1, 0.07, 0.05, 0.04, 0.03, 0.02, 0.01, 0.005]
KINDS = {
    # name: packingType, bitsPerValue, extra keys
    "gfs_like_5.3": ("grid_complex_spatial_differencing", 12, [("orderOfSpatialDifferencing", 2)]),
    "ifs_like_ccsds": ("grid_ccsds", 16, []),
}


def field(rng, k):
    y = np.linspace(-1, 1, NJ)[:, None]
    x = np.linspace(0, 2 * np.pi, NI)[None, :]
    base = 250 + 30 * np.cos(np.pi * y / 2) + (5 + k % 7) * np.sin(3 * x + k) * np.cos(2 * y)
    noise = np.cumsum(rng.normal(0, 0.05, (NJ, NI)), axis=1)
    return (base + noise - noise.mean()).ravel()


def write(path, packing, bpv, extra, rng):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        k = 0
        for param in PARAMS:
            for level in LEVELS:
                h = ec.codes_grib_new_from_samples("regular_ll_pl_grib2")
                ec.codes_set_string(h, "packingType", packing)
                for key, v in [("Ni", NI), ("Nj", NJ),
                               ("latitudeOfFirstGridPointInDegrees", 90.0),
                               ("longitudeOfFirstGridPointInDegrees", 0.0),
                               ("latitudeOfLastGridPointInDegrees", -90.0),
                               ("longitudeOfLastGridPointInDegrees", 359.75),
                               ("iDirectionIncrementInDegrees", 0.25),
                               ("jDirectionIncrementInDegrees", 0.25),
                               ("numberOfDataPoints", NI * NJ)] + extra:
                    ec.codes_set(h, key, v)
                ec.codes_set(h, "bitsPerValue", bpv)
                ec.codes_set_string(h, "shortName", param)
                if level >= 1:
                    ec.codes_set_string(h, "typeOfLevel", "isobaricInhPa")
                    ec.codes_set(h, "level", int(level))
                else:
                    ec.codes_set_string(h, "typeOfLevel", "isobaricInPa")
                    ec.codes_set(h, "level", int(round(level * 100)))
                ec.codes_set_double_array(h, "values", field(rng, k))
                f.write(ec.codes_get_message(h))
                ec.codes_release(h)
                k += 1
    os.replace(tmp, path)


def write_archive(directory, count, rng):
    """`count` files of one 1-degree global field each (6-hourly steps of one variable)."""
    os.makedirs(directory, exist_ok=True)
    if len([n for n in os.listdir(directory) if n.endswith(".grib2")]) >= count:
        return
    h = ec.codes_grib_new_from_samples("regular_ll_sfc_grib2")
    ni, nj = 360, 181
    for key, v in [("Ni", ni), ("Nj", nj), ("latitudeOfFirstGridPointInDegrees", 90.0),
                   ("longitudeOfFirstGridPointInDegrees", 0.0),
                   ("latitudeOfLastGridPointInDegrees", -90.0),
                   ("longitudeOfLastGridPointInDegrees", 359.0),
                   ("iDirectionIncrementInDegrees", 1.0), ("jDirectionIncrementInDegrees", 1.0),
                   ("numberOfDataPoints", ni * nj)]:
        ec.codes_set(h, key, v)
    ec.codes_set_string(h, "shortName", "2t")
    ec.codes_set(h, "bitsPerValue", 12)
    values = 280 + 10 * np.sin(np.arange(ni * nj) / 5000.0)
    ec.codes_set_double_array(h, "values", values)
    start = np.datetime64("2020-01-01T00")
    for i in range(count):
        t = start + np.timedelta64(6 * i, "h")
        s = str(t)
        ec.codes_set(h, "dataDate", int(s[:10].replace("-", "")))
        ec.codes_set(h, "dataTime", int(s[11:13]) * 100)
        with open(os.path.join(directory, f"f_{i:05d}.grib2"), "wb") as f:
            f.write(ec.codes_get_message(h))
    ec.codes_release(h)


def warm(paths):
    for p in paths:
        with open(p, "rb") as f:
            while f.read(1 << 24):
                pass


def best(fn, repeat):
    out = None
    for _ in range(repeat):
        r = fn()
        out = r if out is None else min(out, r)
    return out


def child_run(cmd):
    """(wall seconds, CPU seconds of the child) of one run of `cmd`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def eccodes_loop(path):
    t0, c0 = time.perf_counter(), time.process_time()
    n = 0
    with open(path, "rb") as f:
        while True:
            h = ec.codes_grib_new_from_file(f)
            if h is None:
                break
            n += ec.codes_get_values(h).size
            ec.codes_release(h)
    return time.perf_counter() - t0, time.process_time() - c0


def cfgrib_open(paths):
    import cfgrib
    t0 = time.perf_counter()
    for p in paths:
        dss = cfgrib.open_datasets(p, backend_kwargs={"indexpath": ""})
        for ds in dss:
            ds.close()
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lsio", required=True)
    ap.add_argument("--work-dir", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--archive-files", type=int, default=3000)
    ap.add_argument("--markdown")
    ap.add_argument("--json")
    a = ap.parse_args()
    warnings.simplefilter("ignore")
    import logging
    logging.getLogger("cfgrib").setLevel(logging.CRITICAL)
    os.makedirs(a.work_dir, exist_ok=True)
    rng = np.random.default_rng(11)
    files = {}
    for name, (packing, bpv, extra) in KINDS.items():
        path = os.path.join(a.work_dir, f"{name}.grib2")
        if not os.path.exists(path):
            print(f"writing {path} ({len(PARAMS) * len(LEVELS)} messages) with ecCodes ...",
                  flush=True)
            write(path, packing, bpv, extra, rng)
        files[name] = path
    archive = os.path.join(a.work_dir, "archive")
    write_archive(archive, a.archive_files, rng)
    archive_files = sorted(os.path.join(archive, n) for n in os.listdir(archive)
                           if n.endswith(".grib2"))[: a.archive_files]
    warm(list(files.values()) + archive_files)
    import cfgrib  # noqa: F401  (imported before timing)
    cfgrib_open([archive_files[0]])

    results = {"cores": os.cpu_count(), "load": open("/proc/loadavg").read().split()[:3],
               "files": {}}
    rows = []
    for name, path in files.items():
        size = os.path.getsize(path)
        lsio_open = best(lambda: child_run([a.lsio, "info", path, "--json"])[0], a.repeat)
        cf_open = best(lambda: cfgrib_open([path]), max(1, a.repeat - 1))
        one = best(lambda: child_run([a.lsio, "stats", path, "--threads", "1", "--quiet",
                                      "--json"])[1], a.repeat)
        all_wall = best(lambda: child_run([a.lsio, "stats", path, "--quiet", "--json"])[0],
                        a.repeat)
        ec_wall, ec_cpu = None, None
        for _ in range(a.repeat):
            w, c = eccodes_loop(path)
            ec_wall = w if ec_wall is None else min(ec_wall, w)
            ec_cpu = c if ec_cpu is None else min(ec_cpu, c)
        r = {"bytes": size, "messages": len(PARAMS) * len(LEVELS),
             "lsio_info_s": lsio_open, "cfgrib_open_s": cf_open,
             "open_ratio": cf_open / lsio_open,
             "lsio_stats_1thread_cpu_s": one, "eccodes_loop_cpu_s": ec_cpu,
             "decode_ratio_per_thread": ec_cpu / one,
             "lsio_stats_all_cores_s": all_wall, "eccodes_loop_wall_s": ec_wall,
             "all_cores_ratio": ec_wall / all_wall}
        results["files"][name] = r
        rows.append((name, r))
        print(json.dumps({name: r}), flush=True)
    # The archive: lsio on every file, cfgrib on a tenth.
    sample = archive_files[:: 10]
    lsio_arch = best(lambda: child_run([a.lsio, "info", archive, "--json"])[0], a.repeat)
    cf_sample = cfgrib_open(sample)
    cf_per_file = cf_sample / len(sample)
    results["archive"] = {"files": len(archive_files), "lsio_info_s": lsio_arch,
                          "cfgrib_s_per_file": cf_per_file,
                          "cfgrib_estimated_s": cf_per_file * len(archive_files),
                          "open_ratio": cf_per_file * len(archive_files) / lsio_arch}
    print(json.dumps({"archive": results["archive"]}), flush=True)

    lines = [
        f"GRIB2 datasets, {results['cores']} cores, load {' '.join(results['load'])}; "
        "page cache warm; best of "
        f"{a.repeat}; ratios from this run.",
        "",
        "| file | messages | size | `lsio info` | cfgrib.open_datasets | open ratio | "
        "`lsio stats --threads 1` CPU | ecCodes loop CPU | per-thread ratio | "
        "`lsio stats` all cores | ecCodes loop wall | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows:
        lines.append(
            f"| {name} | {r['messages']} | {r['bytes'] / 1e6:.0f} MB | {r['lsio_info_s']:.3f} s "
            f"| {r['cfgrib_open_s']:.2f} s | **{r['open_ratio']:.0f}x** "
            f"| {r['lsio_stats_1thread_cpu_s']:.2f} s | {r['eccodes_loop_cpu_s']:.2f} s "
            f"| **{r['decode_ratio_per_thread']:.2f}x** | {r['lsio_stats_all_cores_s']:.2f} s "
            f"| {r['eccodes_loop_wall_s']:.2f} s | {r['all_cores_ratio']:.2f}x |")
    ar = results["archive"]
    lines += [
        "",
        f"Archive of {ar['files']} one-message files (1-degree global 2t): `lsio info DIR` "
        f"{ar['lsio_info_s']:.2f} s; cfgrib.open_datasets {ar['cfgrib_s_per_file'] * 1e3:.1f} ms "
        f"per file (timed on {len(sample)} of them), so {ar['cfgrib_estimated_s']:.0f} s for "
        f"all: **{ar['open_ratio']:.0f}x**.",
    ]
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
