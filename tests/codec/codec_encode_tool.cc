// codec_encode_tool <requests.json>: encodes data with lsio for make_numcodecs_fixtures.py's
// verify-encoded step, which checks the result with numcodecs and zarr-python.
//
// Each request: {"kind": "codec"|"v2"|"v3", "config"|"zarray"|"codecs": ..., "dtype",
// "shape", "input": path of decoded C-order native bytes, "output": path to write}.

#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

#include "test_util.h"

namespace lsio::codec::testing {
namespace {

Result<Buffer> EncodeOne(const nlohmann::json& r, const ArraySpec& spec,
                         std::span<const std::byte> input) {
  if (r.at("kind") != "codec") {
    LSIO_ASSIGN_OR_RETURN(CodecChain chain, ChainOf(r, spec));
    return chain.Encode(input);
  }
  const nlohmann::json& config = r.at("config");
  const std::string id = config.at("id").get<std::string>();
  const CodecRegistry& registry = CodecRegistry::Builtin();
  std::optional<CodecRegistry::Kind> kind = registry.KindOf(id);
  if (kind == CodecRegistry::Kind::kArrayToArray) {
    LSIO_ASSIGN_OR_RETURN(auto codec, registry.MakeArrayToArray(id, config));
    LSIO_ASSIGN_OR_RETURN(ArraySpec encoded, codec->EncodedSpec(spec));
    LSIO_ASSIGN_OR_RETURN(Buffer out, Buffer::Allocate(encoded.num_bytes()));
    LSIO_RETURN_IF_ERROR(codec->Encode(input, spec, out.mutable_span()));
    return out;
  }
  // numcodecs' compressors see the array, so blosc's typesize is its itemsize.
  nlohmann::json filled = config;
  if (id == "blosc" && !filled.contains("typesize")) filled["typesize"] = ByteWidth(spec.dtype);
  LSIO_ASSIGN_OR_RETURN(auto codec, registry.MakeBytesToBytes(id, filled));
  return codec->Encode(input);
}

int Run(const char* requests_path) {
  std::optional<std::vector<std::byte>> text = ReadFileBytes(requests_path);
  if (!text) {
    std::fprintf(stderr, "cannot read %s\n", requests_path);
    return 2;
  }
  const nlohmann::json requests = nlohmann::json::parse(
      reinterpret_cast<const char*>(text->data()),
      reinterpret_cast<const char*>(text->data() + text->size()));
  int failures = 0;
  for (const nlohmann::json& r : requests) {
    const std::string name = r.at("name").get<std::string>();
    std::optional<ArraySpec> spec = SpecOf(r);
    std::optional<std::vector<std::byte>> input = ReadFileBytes(r.at("input").get<std::string>());
    if (!spec || !input) {
      std::fprintf(stderr, "%s: bad request\n", name.c_str());
      ++failures;
      continue;
    }
    Result<Buffer> encoded = EncodeOne(r, *spec, *input);
    if (!encoded.ok()) {
      std::fprintf(stderr, "%s: %s\n", name.c_str(), encoded.status().ToString().c_str());
      ++failures;
      continue;
    }
    if (!WriteFileBytes(r.at("output").get<std::string>(), encoded->span())) {
      std::fprintf(stderr, "%s: cannot write output\n", name.c_str());
      ++failures;
    }
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace lsio::codec::testing

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <requests.json>\n", argv[0]);
    return 2;
  }
  return lsio::codec::testing::Run(argv[1]);
}
