#include "lsio/compute/fused_decode.h"

#include <string>

#include "lsio/compute/stats_stream.h"

namespace lsio::compute {

namespace {

class StreamSink final : public codec::DecodedWindowSink {
 public:
  explicit StreamSink(StatsStream& stream) : stream_(stream) {}
  Status Consume(std::span<const std::byte> piece) override { return stream_.Feed(piece); }

 private:
  StatsStream& stream_;
};

}  // namespace

Status DecodeAndConsume(const codec::CodecChain& chain, std::span<const std::byte> encoded,
                        const Box& box, StatsAccumulator& acc, BufferPool& pool) {
  const codec::ArraySpec& spec = chain.decoded_spec();
  if (spec.dtype != acc.dtype()) {
    return InvalidArgumentError("chunk of dtype " + std::string(DataTypeName(spec.dtype)) +
                                " fed to statistics of " + std::string(DataTypeName(acc.dtype())));
  }
  // Blocks are folded as they complete, so a chunk found corrupt half-way would leave half of
  // it behind: keep the state to put back (a few hundred bytes).
  const StatsAccumulator saved = acc;
  LSIO_ASSIGN_OR_RETURN(StatsStream stream, StatsStream::Make(acc, spec.shape, box));
  StreamSink sink(stream);
  Status status = chain.DecodeStreaming(encoded, sink, pool);
  if (status.ok()) status = stream.Finish();
  if (!status.ok()) acc = saved;
  return status;
}

}  // namespace lsio::compute
