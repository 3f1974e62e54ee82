// Codec decode: a chain from codec_table.h (picked by the input's first bytes) decodes the rest
// of the input into a chunk of the declared size. Decoding must fail cleanly or fill exactly
// the output; ASan catches any write outside it, and a pool that gives out only what was asked
// for bounds the scratch memory.
//
// The same input also goes through the fused decode-and-reduce path (DecodeAndConsume), which
// must give the same status code and, on success, the same statistics bits as decoding and then
// Consume; and the raw bytes through lsio's own blosc frame decoder, which must fail exactly when
// c-blosc (behind lsio's header checks) fails and otherwise decode to the same bytes.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <vector>

#include <blosc.h>

#include <algorithm>

#include "codec_table.h"
#include "fuzz_util.h"
#include "lsio/codec/blosc_frame.h"
#include "lsio/codec/chain.h"
#include "lsio/compute/fused_decode.h"

namespace {

// c-blosc behind the checks lsio makes before calling it (BloscCodec::DecodedSize).
bool LibraryBlosc(std::span<const std::byte> in, std::span<std::byte> out, size_t* n) {
  if (in.size() < BLOSC_MIN_HEADER_LENGTH) return false;
  size_t nbytes = 0, cbytes = 0, blocksize = 0;
  blosc_cbuffer_sizes(in.data(), &nbytes, &cbytes, &blocksize);
  if (cbytes != in.size() || blosc_cbuffer_validate(in.data(), in.size(), &nbytes) != 0) {
    return false;
  }
  if (nbytes > out.size()) return false;
  *n = nbytes;
  if (nbytes == 0) return true;
  const int r = blosc_decompress_ctx(in.data(), out.data(), out.size(), 1);
  return r >= 0 && static_cast<size_t>(r) == nbytes;
}

void CheckOwnBloscDecoder(std::span<const std::byte> in, size_t room) {
  lsio::Result<lsio::codec::BloscFrameInfo> info = lsio::codec::ParseBloscFrame(in, room);
  if (info.ok() && !lsio::codec::BloscOwnDecoderHandles(*info)) return;
  std::vector<std::byte> own(room), lib(room);
  size_t n = 0;
  const bool lib_ok = LibraryBlosc(in, lib, &n);
  lsio::Result<size_t> o = info.ok() ? lsio::codec::DecodeBloscFrame(in, own)
                                     : lsio::Result<size_t>(info.status());
  LSIO_FUZZ_CHECK(o.ok() == lib_ok);
  if (!lib_ok) return;
  LSIO_FUZZ_CHECK(*o == n);
  LSIO_FUZZ_CHECK(std::equal(own.begin(), own.begin() + static_cast<ptrdiff_t>(n), lib.begin()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < lsio::fuzz::kCodecHeaderBytes) return 0;
  const lsio::fuzz::CodecInputHeader h = lsio::fuzz::ParseCodecHeader(
      std::span<const uint8_t, lsio::fuzz::kCodecHeaderBytes>(data, lsio::fuzz::kCodecHeaderBytes));
  const lsio::codec::ArraySpec spec{h.dtype, h.shape};
  lsio::Result<lsio::codec::CodecChain> chain =
      lsio::codec::CodecChain::FromZarrV3(nlohmann::json::parse(h.codecs), spec);
  if (!chain.ok()) return 0;  // the chain does not apply to this dtype (delta on floats, ...)

  const std::span<const std::byte> encoded(
      reinterpret_cast<const std::byte*>(data) + lsio::fuzz::kCodecHeaderBytes,
      size - lsio::fuzz::kCodecHeaderBytes);
  // A fresh allocation of exactly the chunk's size, so ASan sees any overrun of `out`.
  std::vector<std::byte> out(spec.num_bytes());
  lsio::BufferPool pool;
  const lsio::Status st = chain->Decode(encoded, out, pool);
  if (st.ok()) LSIO_FUZZ_CHECK(chain->decoded_spec() == spec);
  // Nothing is held afterwards, and the scratch was a small multiple of the chunk (chain.h:
  // compressor stages are sized by a bound of chunk + 1/16 + 64 KiB; astype may double it;
  // size classes round up by at most 25%).
  const lsio::BufferPool::Stats stats = pool.stats();
  LSIO_FUZZ_CHECK(stats.bytes_outstanding == 0);
  LSIO_FUZZ_CHECK(stats.bytes_cached <= 16 * (spec.num_bytes() + (size_t{64} << 10)));

  if (lsio::IsRealNumeric(spec.dtype) && spec.shape.size() <= lsio::compute::kMaxRank) {
    lsio::Result<lsio::compute::StatsAccumulator> acc =
        lsio::compute::StatsAccumulator::Make(spec.dtype);
    LSIO_FUZZ_CHECK(acc.ok());
    lsio::compute::StatsAccumulator fused = *acc;
    const std::vector<int64_t> start(spec.shape.size(), 0);
    const lsio::compute::Box box{start, spec.shape};
    const lsio::Status f = lsio::compute::DecodeAndConsume(*chain, encoded, box, fused, pool);
    LSIO_FUZZ_CHECK(f.code() == st.code());
    if (st.ok()) {
      LSIO_FUZZ_CHECK(acc->Consume(lsio::compute::ChunkView{spec.dtype, spec.shape, out}, box).ok());
      LSIO_FUZZ_CHECK(fused.Serialize() == acc->Serialize());
    } else {
      LSIO_FUZZ_CHECK(fused.Serialize() == acc->Serialize());  // untouched
    }
  }
  CheckOwnBloscDecoder(encoded, std::min<size_t>(spec.num_bytes(), size_t{1} << 24));
  return 0;
}
