"""Reads into numpy decode whole chunks straight into the result when they land there
contiguously (issue 18, item 3). Every selection here is compared with zarr-python reading the
same store: the in-place path (whole chunks, contiguous in the output), the copying path
(partial chunks, strided selections), and the mix, for codecs whose decoders write the output
differently (lsio's blosc decoder with non-temporal stores for chunks of 1 MiB and more, zstd,
gzip, nested shards), at output offsets that are not aligned to 64 bytes."""

from __future__ import annotations

import numcodecs
import numpy as np
import pytest
import zarr

import lsio

# 513 x 515 float32 = 1,056,780 bytes per chunk: over the 1 MiB at which the blosc decoder
# streams its output, and chunk k starts at k x 1,056,780 bytes, which is not a multiple of 64
# for odd k.
SHAPE = (5, 513, 515)
CHUNKS = (1, 513, 515)

V2_CODECS = {
    "blosc-zstd-shuffle": numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.SHUFFLE),
    "blosc-lz4-bitshuffle": numcodecs.Blosc(cname="lz4", clevel=5,
                                            shuffle=numcodecs.Blosc.BITSHUFFLE),
    "blosc-lz4-noshuffle": numcodecs.Blosc(cname="lz4", clevel=1, shuffle=numcodecs.Blosc.NOSHUFFLE),
    "zstd": numcodecs.Zstd(level=1),
    "gzip": numcodecs.GZip(level=1),
}

SELECTIONS = [
    (slice(None),),                                   # every chunk in place
    (slice(1, 4),),                                   # from an unaligned offset
    (3,),                                             # one chunk, dimension dropped
    (slice(None, None, 2),),                          # every other chunk: still whole chunks
    (slice(None), slice(0, 200)),                     # partial chunks: copied
    (slice(1, 3), slice(None), slice(7, 515)),        # partial in the last dimension
    (slice(None), slice(None, None, 3), slice(None)),  # strided inside the chunk
    (slice(2, 5), 17, slice(None)),                    # a row of each chunk
]


def _data(dtype=np.float32):
    rng = np.random.default_rng(7)
    smooth = np.linspace(0, 50, SHAPE[1] * SHAPE[2], dtype=np.float64).reshape(SHAPE[1:])
    return (smooth[None] + rng.normal(0, 1, SHAPE)).astype(dtype)


@pytest.fixture(scope="module")
def data():
    return _data()


@pytest.mark.parametrize("codec", sorted(V2_CODECS))
def test_v2_codecs_every_selection(tmp_path, data, codec):
    p = tmp_path / f"{codec}.zarr"
    z = zarr.create_array(str(p), shape=SHAPE, chunks=CHUNKS, dtype=data.dtype,
                          compressors=V2_CODECS[codec], zarr_format=2, fill_value=0)
    z[...] = data
    ref = zarr.open_array(str(p), mode="r")
    a = lsio.open(str(p))
    for sel in SELECTIONS:
        got = a[sel]
        want = ref[sel]
        assert got.shape == want.shape, sel
        np.testing.assert_array_equal(got, want, err_msg=f"{codec} {sel}")


def test_sharded_v3_and_missing_chunks(tmp_path, data):
    # Inner chunks of a shard decoded in place; a never-written region is the fill value.
    p = tmp_path / "sharded.zarr"
    z = zarr.create_array(str(p), shape=SHAPE, chunks=CHUNKS, shards=(2, 513, 515),
                          dtype=data.dtype, compressors=zarr.codecs.ZstdCodec(level=1),
                          fill_value=-1.5)
    z[0:2] = data[0:2]
    z[4] = data[4]
    ref = zarr.open_array(str(p), mode="r")
    a = lsio.open(str(p))
    for sel in SELECTIONS:
        np.testing.assert_array_equal(a[sel], ref[sel], err_msg=str(sel))
    assert (a[2:4] == -1.5).all()


@pytest.mark.parametrize("dtype", [np.int16, np.float64, np.uint8])
def test_other_element_sizes(tmp_path, dtype):
    data = _data(np.float64)
    data = (data * 10).astype(dtype) if np.dtype(dtype).kind != "f" else data.astype(dtype)
    p = tmp_path / "a.zarr"
    z = zarr.create_array(str(p), shape=SHAPE, chunks=CHUNKS, dtype=dtype,
                          compressors=numcodecs.Blosc(cname="zstd", clevel=1,
                                                      shuffle=numcodecs.Blosc.SHUFFLE),
                          zarr_format=2, fill_value=0)
    z[...] = data
    a = lsio.open(str(p))
    np.testing.assert_array_equal(a[...], data)
    np.testing.assert_array_equal(a[1:4], data[1:4])


def test_a_corrupt_chunk_is_an_error_naming_it(tmp_path, data):
    p = tmp_path / "bad.zarr"
    z = zarr.create_array(str(p), shape=SHAPE, chunks=CHUNKS, dtype=data.dtype,
                          compressors=V2_CODECS["blosc-zstd-shuffle"], zarr_format=2,
                          fill_value=0)
    z[...] = data
    chunk = p / "3.0.0"
    raw = bytearray(chunk.read_bytes())
    raw[len(raw) // 2:] = bytes(len(raw) - len(raw) // 2)
    chunk.write_bytes(bytes(raw))
    a = lsio.open(str(p))
    np.testing.assert_array_equal(a[0:3], data[0:3])
    with pytest.raises(Exception, match=r"3\.0\.0"):
        a[...]
