// Single-thread GRIB decode benchmark: scan, parse and decode every field of the files given,
// `--repeat` times, and print the CPU seconds (this process, one thread) and values decoded, as
// JSON, one object per file. run_grib_bench.py runs it beside ecCodes' codes_get_values loop.
//
//   grib_decode_bench [--repeat N] [--double] FILE...

#include <time.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "lsio/format/grib/decode.h"
#include "lsio/format/grib/message.h"
#include "lsio/format/grib/scan.h"

namespace {

double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  int repeat = 3;
  bool as_double = false;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) {
      repeat = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--double") == 0) {
      as_double = true;
    } else {
      files.push_back(argv[i]);
    }
  }
  using namespace lsio::grib;
  DecodeScratch scratch;
  std::vector<float> f32;
  std::vector<double> f64;
  std::printf("[\n");
  for (size_t fi = 0; fi < files.size(); ++fi) {
    std::ifstream in(files[fi], std::ios::binary);
    const std::vector<char> chars((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
    const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(chars.data()),
                                           chars.size());
    uint64_t values = 0, fields = 0;
    double best = 1e300;
    for (int r = 0; r < repeat; ++r) {
      const double t0 = CpuSeconds();
      values = fields = 0;
      lsio::Result<std::vector<MessageExtent>> scanned = ScanMessages(bytes);
      if (!scanned.ok()) {
        std::fprintf(stderr, "%s: %s\n", files[fi].c_str(), scanned.status().ToString().c_str());
        return 1;
      }
      for (size_t i = 0; i < scanned->size(); ++i) {
        const MessageExtent& e = (*scanned)[i];
        const auto msg = bytes.subspan(e.offset, e.length);
        lsio::Result<Message> m = ParseMessage(msg, {static_cast<uint32_t>(i), e.offset});
        if (!m.ok()) {
          std::fprintf(stderr, "%s\n", m.status().ToString().c_str());
          return 1;
        }
        for (size_t f = 0; f < m->fields.size(); ++f) {
          const size_t n = FieldValueCount(m->fields[f]);
          lsio::Status st;
          if (as_double) {
            f64.resize(n);
            st = DecodeField(msg, *m, f, f64, scratch);
          } else {
            f32.resize(n);
            st = DecodeField(msg, *m, f, f32, scratch);
          }
          if (!st.ok()) {
            std::fprintf(stderr, "%s\n", st.ToString().c_str());
            return 1;
          }
          values += n;
          ++fields;
        }
      }
      best = std::min(best, CpuSeconds() - t0);
    }
    std::printf(
        "  {\"file\": \"%s\", \"fields\": %llu, \"values\": %llu, \"cpu_seconds\": %.6f}%s\n",
                files[fi].c_str(), static_cast<unsigned long long>(fields),
                static_cast<unsigned long long>(values), best,
                fi + 1 < files.size() ? "," : "");
  }
  std::printf("]\n");
  return 0;
}
