// Codec decode: a chain from codec_table.h (picked by the input's first bytes) decodes the rest
// of the input into a chunk of the declared size. Decoding must fail cleanly or fill exactly
// the output; ASan catches any write outside it, and a pool that gives out only what was asked
// for bounds the scratch memory.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <vector>

#include "codec_table.h"
#include "fuzz_util.h"
#include "lsio/codec/chain.h"

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
  return 0;
}
