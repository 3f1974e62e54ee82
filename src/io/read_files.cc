#include "lsio/io/read_files.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <xxhash.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <system_error>

namespace lsio::io {

namespace {

namespace fs = std::filesystem;

// Expands directories into their regular files (recursively, sorted); keeps other paths as
// given so that the engine reports what is wrong with them.
Status CollectFiles(const std::vector<std::string>& paths, std::vector<std::string>* files) {
  for (const std::string& path : paths) {
    std::error_code ec;
    if (!fs::is_directory(path, ec)) {
      files->push_back(path);
      continue;
    }
    std::vector<std::string> found;
    fs::recursive_directory_iterator it(path, fs::directory_options::none, ec), end;
    if (ec) return ErrnoToStatus(ec.value(), "listing " + path);
    for (; it != end; it.increment(ec)) {
      if (ec) return ErrnoToStatus(ec.value(), "listing " + path);
      std::error_code type_ec;
      if (it->is_regular_file(type_ec)) found.push_back(it->path().string());
    }
    if (ec) return ErrnoToStatus(ec.value(), "listing " + path);
    std::sort(found.begin(), found.end());
    files->insert(files->end(), found.begin(), found.end());
  }
  return Status::OK();
}

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

struct PlannedRead {
  size_t file = 0;
  int64_t offset = 0;
  int64_t length = ReadRequest::kToEnd;
};

// In-order hashing of one file whose blocks complete in any order.
struct FileHash {
  XXH64_state_t* state = nullptr;
  uint64_t next_block = 0;                  // index of the next block to hash
  std::map<uint64_t, Buffer> out_of_order;  // by block index
  bool failed = false;
};

}  // namespace

Result<uint64_t> ParseByteSize(std::string_view text) {
  size_t i = 0;
  uint64_t value = 0;
  if (text.empty()) return InvalidArgumentError("empty size");
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    const uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (value > (UINT64_MAX - digit) / 10) {
      return InvalidArgumentError("size '" + std::string(text) + "' is too large");
    }
    value = value * 10 + digit;
    ++i;
  }
  if (i == 0) return InvalidArgumentError("size '" + std::string(text) + "' is not a number");
  std::string suffix(text.substr(i));
  for (char& c : suffix) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  int shift = 0;
  if (suffix.empty() || suffix == "b") {
    shift = 0;
  } else if (suffix == "k" || suffix == "kb" || suffix == "kib") {
    shift = 10;
  } else if (suffix == "m" || suffix == "mb" || suffix == "mib") {
    shift = 20;
  } else if (suffix == "g" || suffix == "gb" || suffix == "gib") {
    shift = 30;
  } else if (suffix == "t" || suffix == "tb" || suffix == "tib") {
    shift = 40;
  } else {
    return InvalidArgumentError("size '" + std::string(text) +
                                "' has an unknown suffix (use k, M, G, T or KiB, MiB, ...)");
  }
  if (shift > 0 && value > (UINT64_MAX >> shift)) {
    return InvalidArgumentError("size '" + std::string(text) + "' is too large");
  }
  return value << shift;
}

Status ParseRange(std::string_view text, int64_t* offset, int64_t* length) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return InvalidArgumentError("range '" + std::string(text) + "' is not OFF:LEN");
  }
  std::string_view off = text.substr(0, colon);
  std::string_view len = text.substr(colon + 1);
  const bool negative = !off.empty() && off[0] == '-';
  if (negative) off.remove_prefix(1);
  LSIO_ASSIGN_OR_RETURN(uint64_t off_value, ParseByteSize(off));
  if (off_value > static_cast<uint64_t>(INT64_MAX)) {
    return InvalidArgumentError("range offset '" + std::string(off) + "' is too large");
  }
  *offset = negative ? -static_cast<int64_t>(off_value) : static_cast<int64_t>(off_value);
  if (len.empty()) {
    *length = ReadRequest::kToEnd;
    return Status::OK();
  }
  LSIO_ASSIGN_OR_RETURN(uint64_t len_value, ParseByteSize(len));
  if (len_value > static_cast<uint64_t>(INT64_MAX)) {
    return InvalidArgumentError("range length '" + std::string(len) + "' is too large");
  }
  *length = static_cast<int64_t>(len_value);
  return Status::OK();
}

Status ReadFiles(const ReadFilesOptions& options, std::ostream& out) {
  if (options.checksum && options.random_reads > 0) {
    return InvalidArgumentError("--checksum cannot be combined with random reads");
  }
  if (options.random_reads > 0 && options.has_range) {
    return InvalidArgumentError("--range cannot be combined with random reads");
  }
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = CpuSeconds();

  std::vector<std::string> files;
  LSIO_RETURN_IF_ERROR(CollectFiles(options.paths, &files));
  if (files.empty()) return InvalidArgumentError("no files to read");

  // Sizes are needed only to cut files into blocks or to draw random offsets; a file that
  // cannot be stat'ed is read whole, and the engine reports why it fails.
  const bool need_sizes = options.block_size > 0 || options.random_reads > 0;
  std::vector<int64_t> sizes(files.size(), -1);
  if (need_sizes) {
    for (size_t i = 0; i < files.size(); ++i) {
      struct stat st {};
      if (::stat(files[i].c_str(), &st) == 0 && S_ISREG(st.st_mode)) sizes[i] = st.st_size;
    }
  }

  std::vector<PlannedRead> plan;
  if (options.random_reads > 0) {
    const uint64_t block = options.block_size > 0 ? options.block_size : 4096;
    std::vector<uint64_t> first_block(files.size() + 1, 0);  // prefix sums of whole blocks
    for (size_t i = 0; i < files.size(); ++i) {
      const uint64_t blocks = sizes[i] > 0 ? static_cast<uint64_t>(sizes[i]) / block : 0;
      first_block[i + 1] = first_block[i] + blocks;
    }
    const uint64_t total_blocks = first_block.back();
    if (total_blocks == 0) {
      return InvalidArgumentError("random reads: no file holds a whole block of " +
                                  std::to_string(block) + " bytes");
    }
    std::mt19937_64 rng(options.seed);
    std::uniform_int_distribution<uint64_t> pick(0, total_blocks - 1);
    plan.reserve(options.random_reads);
    for (uint64_t n = 0; n < options.random_reads; ++n) {
      const uint64_t b = pick(rng);
      const size_t f = static_cast<size_t>(
          std::upper_bound(first_block.begin(), first_block.end(), b) - first_block.begin() - 1);
      plan.push_back(PlannedRead{f, static_cast<int64_t>((b - first_block[f]) * block),
                                 static_cast<int64_t>(block)});
    }
  } else {
    for (size_t f = 0; f < files.size(); ++f) {
      int64_t offset = options.has_range ? options.range_offset : 0;
      int64_t length = options.has_range ? options.range_length : ReadRequest::kToEnd;
      if (options.block_size == 0 || sizes[f] < 0) {
        plan.push_back(PlannedRead{f, offset, length});
        continue;
      }
      // Resolve the range here only to cut it into blocks; out-of-file ranges go to the
      // engine unchanged so that it reports them.
      const int64_t size = sizes[f];
      const int64_t begin = offset < 0 ? size + offset : offset;
      const int64_t end = length == ReadRequest::kToEnd ? size : begin + length;
      if (begin < 0 || end > size || begin > end) {
        plan.push_back(PlannedRead{f, offset, length});
        continue;
      }
      if (begin == end) {
        plan.push_back(PlannedRead{f, begin, 0});
        continue;
      }
      const int64_t block = static_cast<int64_t>(options.block_size);
      for (int64_t o = begin; o < end; o += block) {
        plan.push_back(PlannedRead{f, o, std::min(block, end - o)});
      }
    }
  }

  EngineOptions engine_options = options.engine;
  if (options.block_size > 0 || options.random_reads > 0) {
    // Reads of exactly the block size, as fio issues them.
    engine_options.coalesce_max_size = options.block_size > 0 ? options.block_size : uint64_t{4096};
    engine_options.coalesce_max_gap = 0;
  }
  LSIO_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::Create(engine_options));

  std::vector<FileHash> hashes(options.checksum ? files.size() : 0);
  for (FileHash& h : hashes) {
    h.state = XXH64_createState();
    XXH64_reset(h.state, 0);
  }
  // Which block of its file each request is (for in-order hashing).
  std::vector<uint64_t> block_index(plan.size(), 0);
  {
    std::vector<uint64_t> next(files.size(), 0);
    for (size_t i = 0; i < plan.size(); ++i) block_index[i] = next[plan[i].file]++;
  }

  uint64_t bytes = 0;
  uint64_t reads_ok = 0;
  uint64_t failures = 0;
  Status first_failure;
  auto consume = [&](Completion& c) {
    if (c.kind != Completion::Kind::kRead) return;
    const PlannedRead& p = plan[c.tag];
    if (!c.status.ok()) {
      ++failures;
      if (first_failure.ok()) first_failure = c.status;
      if (options.checksum) hashes[p.file].failed = true;
      return;
    }
    ++reads_ok;
    bytes += c.data.size();
    if (!options.checksum) return;
    FileHash& h = hashes[p.file];
    if (h.failed) return;
    const uint64_t b = block_index[c.tag];
    if (b != h.next_block) {
      h.out_of_order.emplace(b, std::move(c.data));
      return;
    }
    XXH64_update(h.state, c.data.data(), c.data.size());
    ++h.next_block;
    for (auto it = h.out_of_order.begin(); it != h.out_of_order.end() && it->first == h.next_block;
         it = h.out_of_order.erase(it)) {
      XXH64_update(h.state, it->second.data(), it->second.size());
      ++h.next_block;
    }
  };

  // One thread both submits and drains, so it submits with TrySubmit and drains whenever the
  // budget is used up (Submit could wait for completions only this thread can consume).
  constexpr size_t kGroupRequests = 1024;
  size_t next_request = 0;
  Completion c;
  while (next_request < plan.size()) {
    std::vector<ReadRequest> group;
    const size_t end = std::min(plan.size(), next_request + kGroupRequests);
    group.reserve(end - next_request);
    for (size_t i = next_request; i < end; ++i) {
      group.push_back(ReadRequest::Range(files[plan[i].file], plan[i].offset, plan[i].length, i));
    }
    for (;;) {
      Result<uint64_t> id = engine->TrySubmit(group);
      if (id.ok()) break;
      if (id.status().code() != StatusCode::kResourceExhausted) return id.status();
      if (!engine->Next(&c)) return InternalError("IO engine stopped while reads were queued");
      consume(c);
      c = Completion{};
    }
    next_request = end;
  }
  while (engine->Next(&c)) {
    consume(c);
    c = Completion{};
  }
  const EngineStats stats = engine->stats();
  const std::string backend(engine->backend_name());
  engine.reset();

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu = CpuSeconds() - cpu_start;
  const double gbps = seconds > 0 ? static_cast<double>(bytes) / 1e9 / seconds : 0;
  const double iops = seconds > 0 ? static_cast<double>(reads_ok) / seconds : 0;

  std::vector<std::pair<std::string, std::string>> sums;  // (path, hex) of fully read files
  for (size_t f = 0; f < hashes.size(); ++f) {
    if (!hashes[f].failed) {
      char hex[17];
      std::snprintf(hex, sizeof(hex), "%016" PRIx64, XXH64_digest(hashes[f].state));
      sums.emplace_back(files[f], hex);
    }
    XXH64_freeState(hashes[f].state);
  }

  if (options.json) {
    nlohmann::json j;
    j["backend"] = backend;
    j["files"] = files.size();
    j["bytes"] = bytes;
    j["reads"] = reads_ok;
    j["failed_reads"] = failures;
    j["device_reads"] = stats.device_reads;
    j["bytes_device"] = stats.bytes_device;
    j["seconds"] = seconds;
    j["gb_per_s"] = gbps;
    j["iops"] = iops;
    j["cpu_seconds"] = cpu;
    if (options.checksum) {
      j["checksums"] = nlohmann::json::array();
      for (auto& [path, hex] : sums) j["checksums"].push_back({{"path", path}, {"xxh64", hex}});
    }
    if (!first_failure.ok()) j["first_error"] = first_failure.ToString();
    out << j.dump() << "\n";
  } else {
    for (auto& [path, hex] : sums) out << hex << "  " << path << "\n";
    char line[512];
    std::snprintf(line, sizeof(line),
                  "backend %s  files %zu  bytes %" PRIu64 "  reads %" PRIu64
                  "  seconds %.3f  GB/s %.3f  IOPS %.0f  cpu_s %.3f\n",
                  backend.c_str(), files.size(), bytes, reads_ok, seconds, gbps, iops, cpu);
    out << line;
  }
  if (failures > 0) {
    return Status(first_failure.code(),
                  std::to_string(failures) + " of " + std::to_string(plan.size()) +
                      " reads failed; first: " + first_failure.message(),
                  first_failure.sys_errno());
  }
  return Status::OK();
}

}  // namespace lsio::io
