#!/usr/bin/env python3
"""Reference data for lsio's codec conformance tests, made with numcodecs and zarr-python.

  generate --out DIR
      Encodes random and smooth data with numcodecs for every codec configuration lsio
      implements, writes zarr-python v2 and v3 arrays through whole codec chains, and records
      each encoded chunk, what numcodecs / zarr-python decode it to, and the configuration, in
      DIR/manifest.json (+ one .bin file per buffer). codec_numcodecs_test decodes every case
      with lsio and requires byte-identical output.

  verify-encoded --out DIR --encode-tool PATH
      The other direction: has lsio (through the codec_encode_tool helper) encode the decoded
      data of every case, then decodes lsio's bytes with numcodecs or reads them back through
      zarr-python and checks the result. For array->array filters, whose numcodecs encoding is
      deterministic numpy arithmetic, lsio's encoded bytes must equal numcodecs' exactly.

Run with the project's .venv python (numcodecs 0.16, zarr 3.1).
"""

import argparse
import json
import lzma
import math
import os
import shutil
import subprocess
import sys
import warnings

import numpy as np

warnings.filterwarnings("ignore")

import numcodecs  # noqa: E402
import zarr  # noqa: E402
import zarr.codecs as zc  # noqa: E402
import zarr.codecs.numcodecs as znc  # noqa: E402
from numcodecs import checksum32  # noqa: E402

SHARED_FIXTURES = os.path.join(
    os.environ.get("LSIO_SHARED_FIXTURES")
    or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared",
                    "fixtures"),
    "zarrs")

BLOSC_CNAMES = ["blosclz", "lz4", "lz4hc", "zlib", "zstd"]
BLOSC_SHUFFLES = [-1, 0, 1, 2]


def native(dtype):
    """The native-endian version of a numpy dtype."""
    return np.dtype(dtype).newbyteorder("=")


def c_bytes(array):
    """Native-endian C-order bytes of an array, the layout lsio decodes into."""
    a = np.asarray(array)
    return np.ascontiguousarray(a.astype(native(a.dtype), copy=False)).tobytes()


def type_name(dtype):
    """lsio's (numpy's) name for the element type, e.g. 'float32'."""
    return native(dtype).name


def make_data(dtype, shape, kind, rng):
    """Smooth fields (+ a little noise for floats), or uniform random values, in `dtype`."""
    dt = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64))
    t = np.linspace(0.0, 6.0 * np.pi, n)
    if kind == "smooth":
        base = 0.5 + 0.3 * np.sin(t) + 0.2 * np.cos(2.7 * t + 0.3)
    else:
        base = rng.random(n)
    if dt.kind == "f":
        vals = base * 200.0 - 100.0
        if kind == "smooth":
            vals = vals + rng.normal(0.0, 0.01, n)
        if dt.itemsize == 2:
            vals = vals / 4.0
        out = vals.astype(dt)
    elif dt.kind == "c":
        out = (base * 10 + 1j * (1 - base)).astype(dt)
    elif dt.kind in "iu":
        info = np.iinfo(dt)
        span = float(info.max) - float(info.min)
        if kind == "smooth":
            span = min(span, 2000.0)
            lo = 0.0 if dt.kind == "u" else -span / 2
        else:
            lo = float(info.min)
        vals = np.floor(lo + base * span)
        vals = np.clip(vals, float(info.min), float(info.max))
        out = vals.astype(np.float64).astype(dt) if dt.itemsize < 8 else \
            rng.integers(info.min, info.max, n, dtype=dt, endpoint=True) if kind == "random" else \
            vals.astype(dt)
    elif dt.kind == "b":
        out = base > 0.5
    else:
        raise ValueError(dtype)
    return np.asarray(out, dtype=dt).reshape(shape)


def random_values(dtype, n, rng, lo=None, hi=None):
    """Arbitrary values of `dtype` (encoded data for the array filters)."""
    dt = np.dtype(dtype)
    if dt.kind == "f":
        lo = -1000.0 if lo is None else lo
        hi = 1000.0 if hi is None else hi
        return (lo + rng.random(n) * (hi - lo)).astype(dt)
    if dt.kind == "b":
        return rng.random(n) > 0.5
    info = np.iinfo(dt)
    lo = info.min if lo is None else lo
    hi = info.max if hi is None else hi
    return rng.integers(lo, hi, n, dtype=dt, endpoint=True)


class Writer:
    """Collects cases and their buffers."""

    def __init__(self, out):
        self.out = out
        self.cases = []
        self.names = set()
        os.makedirs(os.path.join(out, "data"), exist_ok=True)

    def blob(self, name, suffix, data):
        rel = os.path.join("data", f"{name}.{suffix}")
        with open(os.path.join(self.out, rel), "wb") as f:
            f.write(bytes(data))
        return rel

    def add(self, case, encoded, decoded):
        name = case["name"]
        assert name not in self.names, name
        self.names.add(name)
        case["encoded"] = self.blob(name, "enc", encoded)
        case["decoded"] = self.blob(name, "dec", decoded)
        self.cases.append(case)

    def add_error(self, case):
        assert case["name"] not in self.names, case["name"]
        self.names.add(case["name"])
        self.cases.append(case)


def add_codec_case(w, name, codec, data, encoded=None, decode_dtype=None, decode_only=False):
    """One numcodecs codec applied to `data` (decoded); `encoded` overrides the encoding.
    `decode_only`: numcodecs cannot encode with this configuration either (lzma format 0)."""
    if encoded is None:
        encoded = codec.encode(data)
    enc_bytes = bytes(np.ascontiguousarray(encoded).view(np.uint8)) \
        if isinstance(encoded, np.ndarray) else bytes(encoded)
    decoded = codec.decode(enc_bytes)
    dt = np.dtype(decode_dtype) if decode_dtype is not None else data.dtype
    dec = np.frombuffer(bytes(np.ascontiguousarray(decoded).view(np.uint8))
                        if isinstance(decoded, np.ndarray) else bytes(decoded), dtype=dt)
    assert dec.size == data.size, (name, dec.size, data.size)
    case = {"name": name, "kind": "codec", "config": codec.get_config(), "dtype": type_name(dt),
            "shape": list(data.shape)}
    if decode_only:
        case["decode_only"] = True
    w.add(case, enc_bytes, c_bytes(dec))


def gen_blosc(w, rng):
    shapes = {1: (4096,), 2: (64, 64), 4: (16, 16, 16), 8: (2048,)}
    for cname in BLOSC_CNAMES:
        for shuffle in BLOSC_SHUFFLES:
            for dtype in ["|u1", "<i2", "<f4", "<f8"]:
                for kind in ["smooth", "random"]:
                    data = make_data(dtype, shapes[np.dtype(dtype).itemsize], kind, rng)
                    codec = numcodecs.Blosc(cname=cname, clevel=5, shuffle=shuffle)
                    add_codec_case(w, f"blosc_{cname}_s{shuffle}_{type_name(dtype)}_{kind}",
                                   codec, data)
        # Several blocks, each split by typesize; a forced small block size; levels 0, 1, 9.
        big = make_data("<f4", (8, 128, 128), "smooth", rng)
        for shuffle in [1, 2]:
            add_codec_case(w, f"blosc_{cname}_s{shuffle}_large", numcodecs.Blosc(
                cname=cname, clevel=5, shuffle=shuffle), big)
        add_codec_case(w, f"blosc_{cname}_blocksize256", numcodecs.Blosc(
            cname=cname, clevel=5, shuffle=1, blocksize=256), make_data("<f8", (1000,), "smooth", rng))
        for clevel in [0, 1, 9]:
            add_codec_case(w, f"blosc_{cname}_clevel{clevel}", numcodecs.Blosc(
                cname=cname, clevel=clevel, shuffle=2), make_data("<i4", (3000,), "smooth", rng))
    # Odd sizes (a leftover block smaller than the typesize split).
    add_codec_case(w, "blosc_zstd_odd_size", numcodecs.Blosc(cname="zstd", shuffle=1),
                   make_data("<f8", (1237,), "random", rng))
    add_codec_case(w, "blosc_lz4_one_element", numcodecs.Blosc(cname="lz4", shuffle=1),
                   make_data("<f4", (1,), "random", rng))


def zstd_cli(data, extra):
    """Frames without a content size: the zstd CLI reading a pipe does not know the size."""
    return subprocess.run(["zstd", "-q", "-c", *extra, "-"], input=data, check=True,
                          stdout=subprocess.PIPE).stdout


def gen_zstd(w, rng):
    for level in [-5, 1, 3, 19]:
        for checksum in [False, True]:
            for kind in ["smooth", "random"]:
                add_codec_case(w, f"zstd_l{level}_c{int(checksum)}_{kind}",
                               numcodecs.Zstd(level=level, checksum=checksum),
                               make_data("<f4", (64, 64), kind, rng))
    codec = numcodecs.Zstd(level=3)
    data = make_data("<i4", (5000,), "smooth", rng)
    if shutil.which("zstd"):
        add_codec_case(w, "zstd_no_content_size", codec, data,
                       encoded=zstd_cli(data.tobytes(), ["-3"]))
        add_codec_case(w, "zstd_no_content_size_checksum", codec, data,
                       encoded=zstd_cli(data.tobytes(), ["-3", "--check"]))
    else:
        print("zstd CLI not found: frames without a content size are not covered",
              file=sys.stderr)
    half = data.size // 2
    add_codec_case(w, "zstd_two_frames", codec, data,
                   encoded=codec.encode(data[:half]) + codec.encode(data[half:]))


def gen_simple_compressors(w, rng):
    for accel in [1, 10]:
        for kind in ["smooth", "random"]:
            add_codec_case(w, f"lz4_a{accel}_{kind}", numcodecs.LZ4(acceleration=accel),
                           make_data("<f8", (50, 40), kind, rng))
    for name, cls, levels in [("gzip", numcodecs.GZip, [1, 5, 9]),
                              ("zlib", numcodecs.Zlib, [1, 6, 9]),
                              ("bz2", numcodecs.BZ2, [1, 9])]:
        for level in levels:
            for kind in ["smooth", "random"]:
                add_codec_case(w, f"{name}_l{level}_{kind}", cls(level=level),
                               make_data("<i2", (3000,), kind, rng))
    data = make_data("<f4", (4000,), "smooth", rng)
    half = data.size // 2
    add_codec_case(w, "gzip_two_members", numcodecs.GZip(level=1), data,
                   encoded=numcodecs.GZip(1).encode(data[:half]) +
                   numcodecs.GZip(1).encode(data[half:]))
    add_codec_case(w, "bz2_two_streams", numcodecs.BZ2(level=1), data,
                   encoded=numcodecs.BZ2(1).encode(data[:half]) +
                   numcodecs.BZ2(1).encode(data[half:]))
    lz = [
        ("default", numcodecs.LZMA(), None),
        ("preset1", numcodecs.LZMA(preset=1), None),
        ("preset9", numcodecs.LZMA(preset=9), None),
        ("check_none", numcodecs.LZMA(check=lzma.CHECK_NONE, preset=2), None),
        ("check_crc32", numcodecs.LZMA(check=lzma.CHECK_CRC32, preset=2), None),
        ("check_sha256", numcodecs.LZMA(check=lzma.CHECK_SHA256, preset=2), None),
        ("alone", numcodecs.LZMA(format=lzma.FORMAT_ALONE, preset=1), None),
        ("raw_delta_lzma2", numcodecs.LZMA(format=lzma.FORMAT_RAW, filters=[
            {"id": lzma.FILTER_DELTA, "dist": 4}, {"id": lzma.FILTER_LZMA2, "preset": 1}]), None),
        ("raw_lzma1", numcodecs.LZMA(format=lzma.FORMAT_RAW, filters=[
            {"id": lzma.FILTER_LZMA1, "preset": 3, "lc": 2}]), None),
        # Python's lzma refuses filters when decoding xz (the stream names them itself), so
        # numcodecs reads these with a filter-less configuration.
        ("xz_written_with_filters", numcodecs.LZMA(), numcodecs.LZMA(
            format=lzma.FORMAT_XZ, filters=[{"id": lzma.FILTER_DELTA, "dist": 2},
                                            {"id": lzma.FILTER_LZMA2, "preset": 2,
                                             "dict_size": 1 << 20}])),
        ("auto_reads_xz", numcodecs.LZMA(format=lzma.FORMAT_AUTO), numcodecs.LZMA(preset=1)),
        ("auto_reads_alone", numcodecs.LZMA(format=lzma.FORMAT_AUTO),
         numcodecs.LZMA(format=lzma.FORMAT_ALONE, preset=1)),
    ]
    for label, codec, encoder in lz:
        for kind in ["smooth", "random"]:
            d = make_data("<f4", (2000,), kind, rng)
            enc = (encoder or codec).encode(d)
            add_codec_case(w, f"lzma_{label}_{kind}", codec, d, encoded=enc,
                           decode_only=label.startswith("auto"))
    d = make_data("<f4", (2000,), "smooth", rng)
    add_codec_case(w, "lzma_two_streams", numcodecs.LZMA(), d,
                   encoded=numcodecs.LZMA(preset=1).encode(d[:1000]) +
                   numcodecs.LZMA(preset=1).encode(d[1000:]))


def gen_checksums(w, rng):
    makers = [("crc32", checksum32.CRC32), ("crc32c", checksum32.CRC32C),
              ("adler32", checksum32.Adler32)]
    for name, cls in makers:
        for location in [None, "start", "end"]:
            codec = cls() if location is None else cls(location=location)
            for n in [0, 1, 4097]:
                add_codec_case(w, f"{name}_{location or 'default'}_{n}", codec,
                               make_data("|u1", (n,), "random", rng))
    for n in [1, 2, 721, 722, 5001]:  # numcodecs cannot encode an empty buffer
        add_codec_case(w, f"fletcher32_{n}", numcodecs.Fletcher32(),
                       make_data("|u1", (n,), "random", rng))
    add_codec_case(w, "fletcher32_f8", numcodecs.Fletcher32(),
                   make_data("<f8", (33, 7), "smooth", rng))
    for es, dtype, shape in [(1, "|u1", (100,)), (2, "<i2", (999,)), (4, "<f4", (16, 16)),
                             (8, "<f8", (123,)), (3, "|u1", (300,)), (16, "<c16", (10,))]:
        add_codec_case(w, f"shuffle_{es}_{type_name(dtype)}", numcodecs.Shuffle(elementsize=es),
                       make_data(dtype, shape, "smooth", rng))


ALL_REAL = ["|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8", "<f2", "<f4", "<f8"]


def gen_filters(w, rng):
    n = 2000
    # delta: each type with its own astype, then narrowing/widening/cross-kind astypes.
    for dtype in ALL_REAL:
        codec = numcodecs.Delta(dtype=dtype)
        add_codec_case(w, f"delta_{type_name(dtype)}_smooth", codec,
                       make_data(dtype, (n,), "smooth", rng))
        add_codec_case(w, f"delta_{type_name(dtype)}_random_encoded", codec,
                       np.zeros(n, dtype=dtype), encoded=random_values(dtype, n, rng),
                       decode_dtype=dtype)
    for dtype, astype, lo, hi in [("<i4", "<i2", None, None), ("<i8", "|i1", None, None),
                                  ("<u2", "<i4", -100, 100), ("<f8", "<f4", None, None),
                                  ("<f4", "<f8", None, None), ("<f2", "<f4", -10, 10),
                                  ("<f8", "<f2", -10, 10), ("<i4", "<f8", -1e6, 1e6),
                                  ("<u1", "<f4", -5, 300), ("<f4", "<i2", None, None)]:
        codec = numcodecs.Delta(dtype=dtype, astype=astype)
        name = f"delta_{type_name(dtype)}_as_{type_name(astype)}"
        add_codec_case(w, name + "_random_encoded", codec, np.zeros(n, dtype=dtype),
                       encoded=random_values(astype, n, rng, lo, hi), decode_dtype=dtype)
    # Longer than numpy's 8192-element ufunc buffer, whose boundaries must not matter.
    add_codec_case(w, "delta_float32_as_float64_long", numcodecs.Delta(dtype="<f4", astype="<f8"),
                   np.zeros(20000, dtype="<f4"), encoded=random_values("<f8", 20000, rng, 0, 10),
                   decode_dtype="<f4")
    add_codec_case(w, "delta_i4_as_i2_smooth", numcodecs.Delta(dtype="<i4", astype="<i2"),
                   make_data("<i4", (n,), "smooth", rng))

    # fixedscaleoffset: integer and float scalars, every arithmetic path numpy takes.
    fso = [(1000, 10, "<f8", "|u1"), (1000.0, 10.0, "<f8", "<u2"), (0, 1000, "<f4", "<i4"),
           (-5.5, 0.25, "<f4", "<i2"), (10, 100, "<f2", "<u2"), (0.5, 3.0, "<f4", "<f4"),
           (1.5, 7.0, "<f8", "<f2"), (100, 4, "<i4", "<i2"), (0.1, 3.3, "<f8", "<f8"),
           (2, 3, "<f4", "<f2"), (-7, 0.1, "<f2", "<i2"), (250.0, 1.0, "<u2", "|u1"),
           (0.3, 1e-3, "<f8", "<i8")]
    for i, (offset, scale, dtype, astype) in enumerate(fso):
        codec = numcodecs.FixedScaleOffset(offset=offset, scale=scale, dtype=dtype, astype=astype)
        name = f"fso{i}_{type_name(dtype)}_as_{type_name(astype)}"
        data = make_data(dtype, (n,), "smooth", rng)
        if np.dtype(dtype).kind == "f":
            data = (offset + (data - data.min()) / max(float(np.ptp(data)), 1e-3) *
                    (100.0 / scale if np.dtype(astype).kind != "f" else 50)).astype(dtype)
        add_codec_case(w, name + "_smooth", codec, data)
        lo, hi = (0, 200) if np.dtype(astype).kind == "u" else (-100, 100)
        add_codec_case(w, name + "_random_encoded", codec, np.zeros(n, dtype=dtype),
                       encoded=random_values(astype, n, rng, lo, hi), decode_dtype=dtype)

    for dtype, keepbits in [("<f2", 3), ("<f4", 0), ("<f4", 7), ("<f4", 23), ("<f8", 20),
                            ("<f8", 52)]:
        add_codec_case(w, f"bitround_{type_name(dtype)}_{keepbits}",
                       numcodecs.BitRound(keepbits=keepbits),
                       make_data(dtype, (n,), "smooth", rng))
    for dtype, astype, digits in [("<f4", None, 3), ("<f8", None, 1), ("<f8", "<f4", 4),
                                  ("<f2", None, 1), ("<f4", "<f8", 2)]:
        codec = numcodecs.Quantize(digits=digits, dtype=dtype, astype=astype)
        add_codec_case(w, f"quantize_{type_name(dtype)}_{astype and type_name(astype)}_{digits}",
                       codec, make_data(dtype, (n,), "smooth", rng))
    for encode, decode, lo, hi in [("<f8", "<f4", None, None), ("<f8", "<f2", -60000, 60000),
                                   ("<f4", "<f2", -60000, 60000), ("<f2", "<f8", -100, 100),
                                   ("<i4", "<i2", None, None), ("<f4", "<i2", -30000, 30000),
                                   ("<f8", "|u1", 0, 255.9), ("<i8", "<f4", None, None),
                                   ("<u2", "<f8", None, None), ("|u1", "<f2", None, None),
                                   ("<i2", "|b1", -3, 3), ("|b1", "<i4", None, None),
                                   ("<u8", "<f8", None, None), ("<f8", "<i8", -1e15, 1e15),
                                   ("<i2", "<u4", None, None)]:
        codec = numcodecs.AsType(encode_dtype=encode, decode_dtype=decode)
        add_codec_case(w, f"astype_{type_name(encode)}_to_{type_name(decode)}", codec,
                       np.zeros(n, dtype=decode), encoded=random_values(encode, n, rng, lo, hi),
                       decode_dtype=decode)
    add_codec_case(w, "astype_f4_from_f8_smooth",
                   numcodecs.AsType(encode_dtype="<f4", decode_dtype="<f8"),
                   make_data("<f8", (n,), "smooth", rng))


def chunk_file_v2(path, index):
    return os.path.join(path, ".".join(str(i) for i in index))


def chunk_file_v3(path, index, separator="/", default_encoding=True):
    key = separator.join(str(i) for i in index)
    return os.path.join(path, ("c" + separator + key) if default_encoding else key)


def last_chunk(shape, chunks):
    return tuple(s // c - 1 for s, c in zip(shape, chunks))


def chunk_region(index, chunks):
    return tuple(slice(i * c, (i + 1) * c) for i, c in zip(index, chunks))


def gen_v2_arrays(w, rng, store_root):
    cases = [
        ("f4_blosc_bitshuffle", "<f4", (16, 24), (8, 12), "C", None,
         numcodecs.Blosc(cname="zstd", clevel=1, shuffle=2)),
        ("f8_big_zstd", ">f8", (10, 10), (5, 5), "C", None, numcodecs.Zstd(level=3)),
        ("i2_big_F_delta_zlib", ">i2", (12, 20), (6, 10), "F", [numcodecs.Delta(dtype=">i2")],
         numcodecs.Zlib(level=1)),
        ("f8_F_fso_blosc", "<f8", (8, 6, 4), (4, 3, 4), "F",
         [numcodecs.FixedScaleOffset(offset=0, scale=10, dtype="<f8", astype="<u2")],
         numcodecs.Blosc(cname="lz4", shuffle=1)),
        ("u2_shuffle_lz4", "<u2", (64,), (32,), "C", [numcodecs.Shuffle(elementsize=2)],
         numcodecs.LZ4()),
        ("f4_quantize_gzip", "<f4", (20, 20), (10, 10), "C",
         [numcodecs.Quantize(digits=3, dtype="<f4")], numcodecs.GZip(level=5)),
        ("u1_none", "|u1", (30, 30), (15, 15), "C", None, None),
        ("i8_none", "<i8", (10, 4), (5, 2), "C", None, None),
        ("u4_big_none", ">u4", (10, 4), (5, 2), "C", None, None),
        ("c8_blosc", "<c8", (8, 8), (4, 4), "C", None, numcodecs.Blosc(cname="lz4hc", shuffle=1)),
        ("c16_big_none", ">c16", (6, 6), (3, 3), "F", None, None),
        ("f4_bitround_bz2", "<f4", (40, 10), (20, 5), "C", [numcodecs.BitRound(keepbits=10)],
         numcodecs.BZ2(level=1)),
        ("f2_lzma", "<f2", (32, 32), (16, 16), "C", None, numcodecs.LZMA(preset=1)),
        ("i4_astype_delta_crc32_blosc", "<i4", (50,), (25,), "C",
         [numcodecs.AsType(encode_dtype="<i2", decode_dtype="<i4"), numcodecs.Delta(dtype="<i2"),
          checksum32.CRC32()], numcodecs.Blosc(cname="blosclz", shuffle=-1)),
        ("f8_delta_f4_adler32", "<f8", (30,), (15,), "C",
         [numcodecs.Delta(dtype="<f8", astype="<f4")], checksum32.Adler32()),
        ("u1_blosc_auto", "|u1", (40, 40), (20, 20), "C", None,
         numcodecs.Blosc(cname="zstd", shuffle=-1)),
        ("i2_F_3d_delta_zstd", "<i2", (6, 8, 10), (3, 4, 5), "F", [numcodecs.Delta(dtype="<i2")],
         numcodecs.Zstd(level=1)),
        ("f4_fletcher32_filter_zstd", "<f4", (20,), (10,), "C", [numcodecs.Fletcher32()],
         numcodecs.Zstd()),
    ]
    for name, dtype, shape, chunks, order, filters, compressor in cases:
        path = os.path.join(store_root, f"v2_{name}.zarr")
        a = zarr.create_array(store=path, shape=shape, chunks=chunks, dtype=dtype, zarr_format=2,
                              order=order, filters=filters, compressors=compressor,
                              overwrite=True)
        data = make_data(dtype, shape, "smooth" if "quantize" not in name else "random", rng)
        a[...] = data
        index = last_chunk(shape, chunks)
        with open(chunk_file_v2(path, index), "rb") as f:
            encoded = f.read()
        with open(os.path.join(path, ".zarray")) as f:
            zarray = json.load(f)
        expected = a[chunk_region(index, chunks)]
        w.add({"name": f"v2_{name}", "kind": "v2", "zarray": zarray, "store": path,
               "chunk_index": list(index), "dtype": type_name(dtype), "shape": list(chunks)},
              encoded, c_bytes(expected))


def gen_v3_arrays(w, rng, store_root):
    cases = [
        ("f4_blosc", "float32", (16, 16), (8, 8), None, zc.BytesCodec(),
         [zc.BloscCodec(cname="zstd", clevel=3, shuffle="bitshuffle")]),
        ("f8_big_zstd_crc32c", "float64", (10, 12), (5, 6), None, zc.BytesCodec(endian="big"),
         [zc.ZstdCodec(level=2, checksum=True), zc.Crc32cCodec()]),
        ("i4_transpose_gzip", "int32", (4, 6, 8), (2, 3, 4), [zc.TransposeCodec(order=(2, 0, 1))],
         zc.BytesCodec(), [zc.GzipCodec(level=4)]),
        ("i4_transpose_big_none", "int32", (6, 8), (3, 4), [zc.TransposeCodec(order=(1, 0))],
         zc.BytesCodec(endian="big"), []),
        ("u2_nc_delta_zlib", "uint16", (100,), (50,), [znc.Delta(dtype="<u2")], zc.BytesCodec(),
         [znc.Zlib(level=1)]),
        ("f8_nc_fso_lz4", "float64", (20, 10), (10, 5),
         [znc.FixedScaleOffset(offset=0.0, scale=100.0, dtype="<f8", astype="<i4")],
         zc.BytesCodec(), [znc.LZ4()]),
        ("f4_nc_shuffle_zstd", "float32", (64,), (32,), None, zc.BytesCodec(),
         [znc.Shuffle(), znc.Zstd(level=1)]),
        ("i2_nc_checksums", "int16", (30,), (15,), None, zc.BytesCodec(),
         [znc.CRC32(), znc.Adler32(), znc.Fletcher32(), znc.CRC32C()]),
        ("u1_nc_blosc", "uint8", (64, 64), (32, 32), None, zc.BytesCodec(),
         [znc.Blosc(cname="lz4", shuffle=2)]),
        ("f4_nc_bitround_blosc", "float32", (32, 32), (16, 16), [znc.BitRound(keepbits=8)],
         zc.BytesCodec(), [zc.BloscCodec(cname="lz4", shuffle="shuffle")]),
        ("f8_nc_astype_bz2", "float64", (40,), (20,), [znc.AsType(encode_dtype="<f4",
                                                               decode_dtype="<f8")],
         zc.BytesCodec(), [znc.BZ2(level=2)]),
        ("f4_nc_quantize_lzma", "float32", (40,), (20,), [znc.Quantize(digits=2, dtype="<f4")],
         zc.BytesCodec(), [znc.LZMA(preset=1)]),
        ("c8_blosc_gzip", "complex64", (8, 8), (4, 4), None, zc.BytesCodec(endian="big"),
         [zc.BloscCodec(cname="blosclz"), zc.GzipCodec()]),
        ("bool_zstd", "bool", (50, 2), (25, 2), None, zc.BytesCodec(), [zc.ZstdCodec()]),
        ("f2_transpose_crc32c", "float16", (4, 4, 4), (2, 2, 2),
         [zc.TransposeCodec(order=(1, 2, 0))], zc.BytesCodec(endian="little"),
         [zc.Crc32cCodec()]),
    ]
    for name, dtype, shape, chunks, filters, serializer, compressors in cases:
        path = os.path.join(store_root, f"v3_{name}.zarr")
        a = zarr.create_array(store=path, shape=shape, chunks=chunks, dtype=dtype, zarr_format=3,
                              filters=filters or (), serializer=serializer,
                              compressors=compressors or None, overwrite=True)
        a[...] = make_data(dtype, shape, "smooth", rng)
        index = last_chunk(shape, chunks)
        with open(chunk_file_v3(path, index), "rb") as f:
            encoded = f.read()
        with open(os.path.join(path, "zarr.json")) as f:
            meta = json.load(f)
        expected = a[chunk_region(index, chunks)]
        w.add({"name": f"v3_{name}", "kind": "v3", "codecs": meta["codecs"], "store": path,
               "chunk_index": list(index), "dtype": type_name(dtype), "shape": list(chunks)},
              encoded, c_bytes(expected))


def gen_shared(w):
    """Chunks of the zarrs fixtures in ../shared/fixtures, decoded by zarr-python."""
    root = os.path.normpath(SHARED_FIXTURES)
    if not os.path.isdir(root):
        raise SystemExit(f"shared fixtures not found at {root}")
    for folder, fmt in [("v2", 2), ("v3", 3), ("v3_zarr_python", 3)]:
        for entry in sorted(os.listdir(os.path.join(root, folder))):
            path = os.path.join(root, folder, entry)
            meta_file = os.path.join(path, ".zarray" if fmt == 2 else "zarr.json")
            if not os.path.isfile(meta_file):
                continue
            with open(meta_file) as f:
                meta = json.load(f)
            name = f"shared_{folder}_{entry.replace('.zarr', '')}"
            if fmt == 2:
                dtype = meta["dtype"]
                chunks = meta["chunks"]
                if not isinstance(dtype, str):
                    continue
            else:
                dtype = meta["data_type"]
                if not isinstance(dtype, str) or dtype not in (
                        "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                        "uint64", "float16", "float32", "float64", "complex64", "complex128"):
                    continue
                chunks = meta["chunk_grid"]["configuration"]["chunk_shape"]
            ids = [c.get("id") for c in (meta.get("filters") or []) + [meta.get("compressor") or {}]] \
                if fmt == 2 else [c["name"] if isinstance(c, dict) else c for c in meta["codecs"]]
            unsupported = [i for i in ids if i and any(k in i for k in ("pcodec", "zfpy"))]
            index = (1, 1)
            if fmt == 2:
                sep = meta.get("dimension_separator", ".")
                chunk = os.path.join(path, sep.join(map(str, index)))
            else:
                enc = meta["chunk_key_encoding"]
                sep = enc.get("configuration", {}).get("separator",
                                                       "/" if enc["name"] == "default" else ".")
                chunk = chunk_file_v3(path, index, sep, enc["name"] == "default")
            case = {"name": name, "kind": f"v{fmt}", "chunk_file": chunk,
                    "dtype": type_name(dtype) if fmt == 2 else dtype, "shape": list(chunks),
                    "chunk_index": list(index)}
            if fmt == 2:
                case["zarray"] = meta
            else:
                case["codecs"] = meta["codecs"]
            if unsupported:
                case["expect_error"] = "NotSupported"
                case["expect_message"] = f"codec {unsupported[0]} is not supported"
                w.add_error(case)
                continue
            with open(chunk, "rb") as f:
                encoded = f.read()
            expected = zarr.open_array(path, mode="r")[chunk_region(index, chunks)]
            w.add(case, encoded, c_bytes(expected))


def generate(out):
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    rng = np.random.default_rng(20240611)
    w = Writer(out)
    gen_blosc(w, rng)
    gen_zstd(w, rng)
    gen_simple_compressors(w, rng)
    gen_checksums(w, rng)
    gen_filters(w, rng)
    stores = os.path.join(out, "stores")
    os.makedirs(stores)
    gen_v2_arrays(w, rng, stores)
    gen_v3_arrays(w, rng, stores)
    gen_shared(w)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({"numcodecs": numcodecs.__version__, "zarr": zarr.__version__,
                   "cases": w.cases}, f, indent=1)
    print(f"wrote {len(w.cases)} cases to {out}")


# --- the other direction -------------------------------------------------------------------

def decoded_array(out, case):
    with open(os.path.join(out, case["decoded"]), "rb") as f:
        raw = f.read()
    return np.frombuffer(raw, dtype=np.dtype(case["dtype"])).reshape(case["shape"])


def verify_encoded(out, tool):
    with open(os.path.join(out, "manifest.json")) as f:
        cases = [c for c in json.load(f)["cases"]
                 if "expect_error" not in c and "chunk_file" not in c and "decode_only" not in c]
    requests = []
    enc_dir = os.path.join(out, "lsio_encoded")
    os.makedirs(enc_dir, exist_ok=True)
    for c in cases:
        r = {k: c[k] for k in ("name", "kind", "dtype", "shape") if k in c}
        for k in ("config", "zarray", "codecs"):
            if k in c:
                r[k] = c[k]
        r["input"] = os.path.join(out, c["decoded"])
        r["output"] = os.path.join(enc_dir, c["name"] + ".bin")
        requests.append(r)
    req_file = os.path.join(out, "encode_requests.json")
    with open(req_file, "w") as f:
        json.dump(requests, f)
    for r in requests:
        if os.path.exists(r["output"]):
            os.remove(r["output"])
    # The tool reports the cases it cannot encode on stderr; they show up below as missing.
    subprocess.run([tool, req_file], check=False)

    failures = []
    for c, r in zip(cases, requests):
        if not os.path.exists(r["output"]):
            failures.append((c["name"], "lsio did not encode it"))
            continue
        with open(r["output"], "rb") as f:
            lsio_enc = f.read()
        data = decoded_array(out, c)
        try:
            if c["kind"] == "codec":
                codec = numcodecs.get_codec(dict(c["config"]))
                ref_enc = None
                if isinstance(codec, (numcodecs.Delta, numcodecs.FixedScaleOffset,
                                      numcodecs.Quantize, numcodecs.AsType,
                                      numcodecs.BitRound)):
                    ref = codec.encode(data.reshape(-1))
                    ref_enc = np.ascontiguousarray(ref).tobytes()
                    if lsio_enc != ref_enc:
                        failures.append((c["name"], "encoded bytes differ from numcodecs'"))
                        continue
                    continue
                got = codec.decode(lsio_enc)
                got = bytes(np.ascontiguousarray(got).view(np.uint8)) \
                    if isinstance(got, np.ndarray) else bytes(got)
                if got != data.tobytes():
                    failures.append((c["name"], "numcodecs decodes lsio's bytes differently"))
            else:
                # Reference: zarr-python's own round trip of the same chunk; then the chunk
                # file replaced by lsio's encoding must read back identically.
                path = c["store"]
                region = chunk_region(c["chunk_index"], c["shape"])
                a = zarr.open_array(path, mode="r+")
                a[region] = data
                reference = a[region]
                chunk = chunk_file_v2(path, c["chunk_index"]) if c["kind"] == "v2" else \
                    chunk_file_v3(path, c["chunk_index"])
                with open(chunk, "wb") as f:
                    f.write(lsio_enc)
                got = zarr.open_array(path, mode="r")[region]
                if not np.array_equal(got, reference, equal_nan=True) or got.dtype != reference.dtype:
                    failures.append((c["name"], "zarr-python reads lsio's chunk differently"))
        except Exception as e:  # noqa: BLE001 - report every failing case, then fail
            failures.append((c["name"], f"{type(e).__name__}: {e}"))
    for name, why in failures:
        print(f"FAIL {name}: {why}", file=sys.stderr)
    print(f"checked {len(cases)} lsio encodings against numcodecs / zarr-python; "
          f"{len(failures)} failed")
    return 1 if failures else 0


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--out", required=True)
    v = sub.add_parser("verify-encoded")
    v.add_argument("--out", required=True)
    v.add_argument("--encode-tool", required=True)
    args = p.parse_args()
    if args.command == "generate":
        generate(args.out)
        return 0
    return verify_encoded(args.out, args.encode_tool)


if __name__ == "__main__":
    sys.exit(main())
