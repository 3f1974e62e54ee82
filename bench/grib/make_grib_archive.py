#!/usr/bin/env python3
"""A small multi-file GRIB2 archive written with ecCodes, for `make demo`: a few days of
6-hourly global 1-degree fields, one file per day, on two level types: t, u and v on
isobaricInhPa levels (complex packing with spatial differencing, as GFS), msl on meanSea and
sp on the surface (CCSDS, as IFS). Values are smooth synthetic weather with a daily cycle.

    make_grib_archive.py --out DIR [--days 5]
"""
import argparse
import os

import numpy as np

import eccodes as ec

NI, NJ = 360, 181
LEVELS = [1000, 850, 500, 250]


def grid_keys():
    return [("Ni", NI), ("Nj", NJ), ("latitudeOfFirstGridPointInDegrees", 90.0),
            ("longitudeOfFirstGridPointInDegrees", 0.0),
            ("latitudeOfLastGridPointInDegrees", -90.0),
            ("longitudeOfLastGridPointInDegrees", 359.0),
            ("iDirectionIncrementInDegrees", 1.0), ("jDirectionIncrementInDegrees", 1.0),
            ("numberOfDataPoints", NI * NJ)]


def message(sample, keys, values, packing, bpv):
    h = ec.codes_grib_new_from_samples(sample)
    try:
        ec.codes_set_string(h, "packingType", packing)
        for k, v in grid_keys() + keys:
            if isinstance(v, str):
                ec.codes_set_string(h, k, v)
            else:
                ec.codes_set(h, k, v)
        ec.codes_set(h, "bitsPerValue", bpv)
        ec.codes_set_double_array(h, "values", values.ravel())
        return ec.codes_get_message(h)
    finally:
        ec.codes_release(h)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--days", type=int, default=5)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    lat = np.linspace(90, -90, NJ)[:, None]
    lon = np.linspace(0, 359, NI)[None, :]
    rng = np.random.default_rng(2024)
    start = np.datetime64("2024-03-01T00")
    for day in range(a.days):
        msgs = []
        for hour in (0, 6, 12, 18):
            t = start + np.timedelta64(24 * day + hour, "h")
            s = str(t)
            when = [("dataDate", int(s[:10].replace("-", ""))), ("dataTime", hour * 100)]
            phase = 2 * np.pi * (day * 24 + hour) / 24.0
            sun = np.cos(np.radians(lon) - phase)  # the daily cycle follows the sun
            pl = "regular_ll_pl_grib2"
            for level in LEVELS:
                temp = (288 - 6.5 * (1000 - level) / 100 - 30 * np.sin(np.radians(lat)) ** 2
                        + 3 * sun * (level / 1000) + rng.normal(0, 0.3, (NJ, NI)))
                wind_u = 10 * np.cos(np.radians(lat)) * (1000 / level) ** 0.5 + rng.normal(
                    0, 1, (NJ, NI))
                wind_v = 3 * np.sin(np.radians(2 * lon) + phase) + rng.normal(0, 1, (NJ, NI))
                lvl = [("typeOfLevel", "isobaricInhPa"), ("level", level)]
                for name, values in (("t", temp), ("u", wind_u), ("v", wind_v)):
                    msgs.append(message(pl, [("shortName", name)] + lvl + when, values,
                                        "grid_complex_spatial_differencing", 12))
            sfc = "regular_ll_sfc_grib2"
            msl = 101325 - 1500 * np.cos(np.radians(3 * lat)) + 300 * sun + rng.normal(
                0, 50, (NJ, NI))
            msgs.append(message(sfc, [("shortName", "msl")] + when, msl, "grid_ccsds", 16))
            sp = msl - 1200 * (1 + np.sin(np.radians(4 * lon)) * np.cos(np.radians(lat)))
            msgs.append(message(sfc, [("shortName", "sp")] + when, sp, "grid_ccsds", 16))
        path = os.path.join(a.out, f"an_{str(start + np.timedelta64(24 * day, 'h'))[:10]}.grib2")
        with open(path + ".tmp", "wb") as f:
            for m in msgs:
                f.write(m)
        os.replace(path + ".tmp", path)
    print(f"make_grib_archive: {a.days} files in {a.out}")


if __name__ == "__main__":
    main()
