// Conformance suite of the IO engine: every backend runs every test. The reference for the
// bytes is plain pread(2) on the same files, for reads and for what writes left on disk.

#include "lsio/io/engine.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fault_injection.h"

namespace lsio::io {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Fixture data, made once per process.

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(rng());
  return s;
}

void WriteFile(const std::string& path, const std::string& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  if (!bytes.empty()) {
    ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
  }
  ASSERT_EQ(std::fclose(f), 0);
}

// The reference: what pread(2) returns for [offset, offset + length).
std::string Pread(const std::string& path, uint64_t offset, uint64_t length) {
  std::string out(length, '\0');
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0) << path;
  if (fd < 0) return {};
  uint64_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd, out.data() + done, length - done, static_cast<off_t>(offset + done));
    EXPECT_GT(n, 0) << path;
    if (n <= 0) break;
    done += static_cast<uint64_t>(n);
  }
  ::close(fd);
  return out;
}

uint64_t FileSize(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return static_cast<uint64_t>(st.st_size);
}

int CountOpenFds() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  while (readdir(d) != nullptr) ++n;
  closedir(d);
  return n;
}

class TestData {
 public:
  static TestData& Get() {
    static TestData* data = new TestData();
    return *data;
  }

  std::string dir;
  std::vector<std::string> sized;  // sizes 0, 1, 511, 4096, 4097, 1 MiB + 3
  std::string sparse;              // 3 GiB, mostly a hole
  std::string small_dir;           // 20,000 small files
  std::vector<std::string> small;
  std::string shm_file;

  static constexpr uint64_t kSparseSize = uint64_t{3} << 30;
  // Where the sparse file has data: at the start, across the 2 GiB boundary, at the end.
  static constexpr uint64_t kIslandSize = 10000;
  static constexpr uint64_t kIslands[] = {0, (uint64_t{2} << 30) - 5000, kSparseSize - kIslandSize};

 private:
  TestData() {
    char tmpl[] = "/tmp/lsio-io-test-XXXXXX";
    // /tmp is on the disk here (ext4), so O_DIRECT is really exercised.
    const char* made = mkdtemp(tmpl);
    if (made == nullptr) std::abort();
    dir = made;
    ::chmod(dir.c_str(), 0755);  // the permission test runs as nobody
    const size_t sizes[] = {0, 1, 511, 4096, 4097, (size_t{1} << 20) + 3};
    for (size_t s : sizes) {
      std::string p = dir + "/f" + std::to_string(s);
      WriteFile(p, RandomBytes(s, s + 1));
      sized.push_back(p);
    }
    sparse = dir + "/sparse3g";
    int fd = ::open(sparse.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(kSparseSize)) != 0) std::abort();
    const std::string island = RandomBytes(kIslandSize, 99);
    for (uint64_t off : kIslands) {
      if (::pwrite(fd, island.data(), island.size(), static_cast<off_t>(off)) !=
          static_cast<ssize_t>(island.size())) {
        std::abort();
      }
    }
    ::close(fd);
    small_dir = dir + "/small";
    fs::create_directory(small_dir);
    for (int i = 0; i < 20000; ++i) {
      std::string p = small_dir + "/s" + std::to_string(i);
      WriteFile(p, RandomBytes(static_cast<size_t>(i % 97), static_cast<uint64_t>(i)));
      small.push_back(p);
    }
    shm_file = "/dev/shm/lsio-io-test-" + std::to_string(::getpid());
    WriteFile(shm_file, RandomBytes(100000, 5));
  }
};

class DataCleanup : public ::testing::Environment {
 public:
  void TearDown() override {
    TestData& d = TestData::Get();
    std::error_code ec;
    fs::remove_all(d.dir, ec);
    fs::remove(d.shm_file, ec);
  }
};
const auto* const kCleanup = ::testing::AddGlobalTestEnvironment(new DataCleanup);

// ---------------------------------------------------------------------------------------------
// Parameterisation: every backend, with and without O_DIRECT, one and two IO threads.

struct BackendParam {
  const char* name;
  Backend backend;
  int threads;
  bool direct;
  // The two main variants (one per backend) also read the 3 GiB file whole; the others only
  // read ranges of it, to keep the suite fast (each whole read faults in and compares 3 GiB).
  bool main_variant;
};

std::string ParamName(const ::testing::TestParamInfo<BackendParam>& info) {
  return info.param.name;
}

class EngineTest : public ::testing::TestWithParam<BackendParam> {
 protected:
  EngineOptions Options() const {
    EngineOptions o;
    o.backend = GetParam().backend;
    o.threads = GetParam().threads;
    o.direct = GetParam().direct;
    o.notice = [](std::string_view) {};
    return o;
  }

  std::unique_ptr<Engine> Make(EngineOptions o) {
    Result<std::unique_ptr<Engine>> e = Engine::Create(o);
    // A machine with io_uring must run the io_uring suite: failing to create it is a failure,
    // never a skip.
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    if (!e.ok()) return nullptr;
    EXPECT_EQ((*e)->backend_name(),
              GetParam().backend == Backend::kUring ? std::string_view("io_uring") : "posix");
    return std::move(e).value();
  }
  std::unique_ptr<Engine> Make() { return Make(Options()); }
};

// Submits each group, drains everything and returns the delivered stream. One thread submits
// and drains, so it uses TrySubmit and drains while the budget is used up. The engine has run
// `first_group` groups before.
std::vector<Completion> RunGroups(Engine& engine, std::vector<std::vector<ReadRequest>> groups,
                                  uint64_t first_group = 0) {
  std::vector<Completion> out;
  Completion c;
  for (size_t i = 0; i < groups.size(); ++i) {
    for (;;) {
      Result<uint64_t> id = engine.TrySubmit(groups[i]);
      if (id.ok()) {
        EXPECT_EQ(*id, first_group + i);
        break;
      }
      EXPECT_EQ(id.status().code(), StatusCode::kResourceExhausted) << id.status().ToString();
      if (id.status().code() != StatusCode::kResourceExhausted || !engine.Next(&c)) return out;
      out.push_back(std::move(c));
    }
  }
  while (engine.Next(&c)) out.push_back(std::move(c));
  return out;
}

std::map<uint64_t, Completion> ByTag(std::vector<Completion>& stream) {
  std::map<uint64_t, Completion> m;
  for (Completion& c : stream) {
    if (c.kind != Completion::Kind::kEndOfGroup) {
      EXPECT_EQ(m.count(c.tag), 0u) << "tag delivered twice: " << c.tag;
      m[c.tag] = std::move(c);
    }
  }
  return m;
}

// Checks the contract's ordering on a stream: group by group, each group's reads then exactly
// one end-of-group marker; returns the number of reads per group.
std::vector<size_t> CheckOrdering(const std::vector<Completion>& stream, size_t groups) {
  std::vector<size_t> reads(groups, 0);
  uint64_t current = 0;
  bool ended = false;
  for (const Completion& c : stream) {
    EXPECT_LT(c.group, groups);
    if (c.group >= groups) break;
    if (ended) {
      EXPECT_EQ(c.group, current + 1) << "group skipped or repeated";
      current = c.group;
      ended = false;
    }
    EXPECT_EQ(c.group, current) << "completion of another group before the end marker";
    if (c.kind == Completion::Kind::kEndOfGroup) {
      ended = true;
    } else {
      ++reads[c.group];
    }
  }
  EXPECT_TRUE(groups == 0 || (ended && current == groups - 1)) << "stream ended early";
  return reads;
}

void ExpectBytes(const Completion& c, const std::string& path, uint64_t offset, uint64_t length) {
  ASSERT_TRUE(c.status.ok()) << c.status.ToString();
  ASSERT_EQ(c.data.size(), length) << path << " @" << offset;
  EXPECT_TRUE(c.data.as_string_view() == Pread(path, offset, length))
      << path << " bytes [" << offset << ", " << offset + length << ") differ from pread";
}

// ---------------------------------------------------------------------------------------------

TEST_P(EngineTest, WholeFilesMatchPread) {
  TestData& d = TestData::Get();
  auto engine = Make();
  ASSERT_TRUE(engine);
  std::vector<ReadRequest> g;
  for (size_t i = 0; i < d.sized.size(); ++i) g.push_back(ReadRequest::WholeFile(d.sized[i], i));
  auto stream = RunGroups(*engine, {g});
  CheckOrdering(stream, 1);
  auto got = ByTag(stream);
  ASSERT_EQ(got.size(), d.sized.size());
  for (size_t i = 0; i < d.sized.size(); ++i) {
    ExpectBytes(got[i], d.sized[i], 0, FileSize(d.sized[i]));
  }
  EXPECT_EQ(engine->stats().files_opened, d.sized.size());
}

TEST_P(EngineTest, RangesMatchPread) {
  TestData& d = TestData::Get();
  auto engine = Make();
  ASSERT_TRUE(engine);
  struct Want {
    std::string path;
    uint64_t offset, length;
  };
  std::vector<ReadRequest> g;
  std::vector<Want> want;
  std::mt19937_64 rng(3);
  for (const std::string& p : d.sized) {
    const uint64_t size = FileSize(p);
    for (int k = 0; k < 20; ++k) {
      const uint64_t off = size == 0 ? 0 : rng() % size;
      const uint64_t len = size == off ? 0 : rng() % (size - off + 1);
      g.push_back(
          ReadRequest::Range(p, static_cast<int64_t>(off), static_cast<int64_t>(len), want.size()));
      want.push_back({p, off, len});
    }
    // To the end, from an offset, and from the end backwards.
    g.push_back(
        ReadRequest::Range(p, static_cast<int64_t>(size / 2), ReadRequest::kToEnd, want.size()));
    want.push_back({p, size / 2, size - size / 2});
    const uint64_t tail = std::min<uint64_t>(size, 100);
    g.push_back(
        ReadRequest::Range(p, -static_cast<int64_t>(tail), ReadRequest::kToEnd, want.size()));
    want.push_back({p, size - tail, tail});
  }
  auto stream = RunGroups(*engine, {g});
  CheckOrdering(stream, 1);
  auto got = ByTag(stream);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ExpectBytes(got[i], want[i].path, want[i].offset, want[i].length);
  }
  // One open per distinct file, however many ranges of it there are.
  EXPECT_EQ(engine->stats().files_opened, d.sized.size());
}

TEST_P(EngineTest, SparseThreeGiBFileWholeAndRanges) {
  TestData& d = TestData::Get();
  EngineOptions o = Options();
  // The test holds every buffer until the group is done, so the budget must cover them all.
  o.max_bytes_in_flight = uint64_t{4} << 30;
  auto engine = Make(o);
  ASSERT_TRUE(engine);
  const uint64_t two_gib = uint64_t{2} << 30;
  const bool whole_file = GetParam().main_variant;
  std::vector<ReadRequest> g = {
      whole_file ? ReadRequest::WholeFile(d.sparse, 0) : ReadRequest::Range(d.sparse, -1, 1, 0),
      ReadRequest::Range(d.sparse, static_cast<int64_t>(two_gib - 6000), 20000, 1),
      ReadRequest::Range(d.sparse, -12345, ReadRequest::kToEnd, 2),
      ReadRequest::Range(d.sparse, 5, 9000, 3),
  };
  auto stream = RunGroups(*engine, {g});
  CheckOrdering(stream, 1);
  auto got = ByTag(stream);
  ASSERT_EQ(got.size(), 4u);
  if (whole_file) {
    const Completion& whole = got[0];
    ASSERT_TRUE(whole.status.ok()) << whole.status.ToString();
    ASSERT_EQ(whole.data.size(), TestData::kSparseSize);
    // Compare in slices so that the reference never needs another 3 GiB: slices with data
    // against pread, the rest against the zeros that a hole reads as (pread of 3 GiB of holes
    // would fill the page cache and double the test's time).
    const uint64_t kSlice = uint64_t{64} << 20;
    const std::string zeros(kSlice, '\0');
    for (uint64_t off = 0; off < TestData::kSparseSize; off += kSlice) {
      bool has_data = false;
      for (uint64_t island : TestData::kIslands) {
        has_data |= island < off + kSlice && island + TestData::kIslandSize > off;
      }
      ASSERT_TRUE(whole.data.Slice(off, kSlice).as_string_view() ==
                  (has_data ? Pread(d.sparse, off, kSlice) : zeros))
          << "whole-file read differs from the file at " << off;
    }
  } else {
    ExpectBytes(got[0], d.sparse, TestData::kSparseSize - 1, 1);
  }
  ExpectBytes(got[1], d.sparse, two_gib - 6000, 20000);
  ExpectBytes(got[2], d.sparse, TestData::kSparseSize - 12345, 12345);
  ExpectBytes(got[3], d.sparse, 5, 9000);
}

TEST_P(EngineTest, TwentyThousandSmallFilesInOneGroup) {
  TestData& d = TestData::Get();
  auto engine = Make();
  ASSERT_TRUE(engine);
  std::vector<ReadRequest> g;
  for (size_t i = 0; i < d.small.size(); ++i) g.push_back(ReadRequest::WholeFile(d.small[i], i));
  const int fds_before = CountOpenFds();
  auto stream = RunGroups(*engine, {g});
  auto counts = CheckOrdering(stream, 1);
  EXPECT_EQ(counts[0], d.small.size());
  auto got = ByTag(stream);
  ASSERT_EQ(got.size(), d.small.size());
  for (size_t i = 0; i < d.small.size(); ++i) {
    ASSERT_TRUE(got[i].status.ok()) << got[i].status.ToString();
    // Contents are checked on a sample; sizes on all (pread on 20,000 files is the slow part).
    ASSERT_EQ(got[i].data.size(), i % 97) << d.small[i];
    if (i % 50 == 0) ExpectBytes(got[i], d.small[i], 0, i % 97);
  }
  EXPECT_EQ(engine->stats().files_opened, d.small.size());
  EXPECT_EQ(CountOpenFds(), fds_before) << "file descriptors leaked";
}

TEST_P(EngineTest, OverlappingDuplicateAndNegativeRanges) {
  TestData& d = TestData::Get();
  const std::string& p = d.sized.back();  // 1 MiB + 3
  const uint64_t size = FileSize(p);
  auto engine = Make();
  ASSERT_TRUE(engine);
  struct R {
    int64_t off, len;
    uint64_t want_off, want_len;
  };
  const std::vector<R> rs = {
      {100, 5000, 100, 5000},
      {100, 5000, 100, 5000},             // duplicate
      {2000, 10000, 2000, 10000},         // overlaps the first
      {0, ReadRequest::kToEnd, 0, size},  // contains everything
      {-3, 3, size - 3, 3},
      {-static_cast<int64_t>(size), 10, 0, 10},
      {-4097, ReadRequest::kToEnd, size - 4097, 4097},
      {static_cast<int64_t>(size), 0, size, 0},  // empty range at the end
      {4095, 2, 4095, 2},                        // straddles a page boundary
  };
  std::vector<ReadRequest> g;
  for (size_t i = 0; i < rs.size(); ++i)
    g.push_back(ReadRequest::Range(p, rs[i].off, rs[i].len, i));
  auto stream = RunGroups(*engine, {g});
  CheckOrdering(stream, 1);
  auto got = ByTag(stream);
  ASSERT_EQ(got.size(), rs.size());
  for (size_t i = 0; i < rs.size(); ++i) ExpectBytes(got[i], p, rs[i].want_off, rs[i].want_len);
  EXPECT_EQ(engine->stats().files_opened, 1u);
}

TEST_P(EngineTest, GroupOrderingUnderRandomCompletionOrder) {
  TestData& d = TestData::Get();
  EngineOptions o = Options();
  o.queue_depth = 16;
  o.coalesce_max_gap = 0;  // many separate reads, finishing in any order
  o.max_bytes_in_flight = 4 << 20;
  auto engine = Make(o);
  ASSERT_TRUE(engine);
  std::vector<std::string> files = d.sized;
  files.push_back(d.sparse);
  std::mt19937_64 rng(11);
  struct Want {
    std::string path;
    uint64_t offset, length;
  };
  std::vector<Want> want;
  std::vector<std::vector<ReadRequest>> groups(120);
  std::vector<size_t> per_group;
  for (auto& g : groups) {
    const size_t n = rng() % 12;  // some groups are empty
    for (size_t k = 0; k < n; ++k) {
      const std::string& p = files[rng() % files.size()];
      const uint64_t size = p == d.sparse ? TestData::kSparseSize : FileSize(p);
      const uint64_t len = size == 0 ? 0 : rng() % std::min<uint64_t>(size, 300000);
      const uint64_t off = size == len ? 0 : rng() % (size - len);
      g.push_back(
          ReadRequest::Range(p, static_cast<int64_t>(off), static_cast<int64_t>(len), want.size()));
      want.push_back({p, off, len});
    }
    per_group.push_back(g.size());
  }
  // One thread submits (blocking on the budget), this one drains.
  std::thread submitter([&] {
    for (size_t i = 0; i < groups.size(); ++i) {
      Result<uint64_t> id = engine->Submit(std::move(groups[i]));
      EXPECT_TRUE(id.ok()) << id.status().ToString();
      EXPECT_EQ(*id, i);
    }
  });
  // Check each read as it arrives and release its buffer, keeping only the stream's shape:
  // the budget is far smaller than all the reads together.
  std::vector<Completion> shape;
  std::vector<int> seen(want.size(), 0);
  Completion c;
  size_t ends = 0;
  while (ends < groups.size()) {
    // Next returns false while the submitter has nothing queued yet: keep asking.
    if (!engine->NextFor(&c, 100)) continue;
    if (c.kind == Completion::Kind::kRead) {
      ASSERT_LT(c.tag, want.size());
      ++seen[c.tag];
      ExpectBytes(c, want[c.tag].path, want[c.tag].offset, want[c.tag].length);
    } else {
      ++ends;
    }
    Completion meta;
    meta.kind = c.kind;
    meta.group = c.group;
    meta.tag = c.tag;
    shape.push_back(std::move(meta));
    c = Completion{};
  }
  submitter.join();
  EXPECT_FALSE(engine->Next(&c));
  EXPECT_EQ(CheckOrdering(shape, groups.size()), per_group);
  for (int s : seen) EXPECT_EQ(s, 1);
}

TEST_P(EngineTest, PerRequestErrorsLeaveTheRestOfTheGroup) {
  TestData& d = TestData::Get();
  const std::string good = d.sized[4];  // 4097 bytes
  const std::string missing = d.dir + "/does-not-exist";
  const int fds_before = CountOpenFds();
  auto engine = Make();
  ASSERT_TRUE(engine);
  std::vector<ReadRequest> g = {
      ReadRequest::WholeFile(good, 0),
      ReadRequest::WholeFile(missing, 1),
      ReadRequest::WholeFile(d.dir, 2),                        // a directory passed as a file
      ReadRequest::Range(good, 4000, 98, 3),                   // one byte past the end
      ReadRequest::Range(good, 5000, ReadRequest::kToEnd, 4),  // starts past the end
      ReadRequest::Range(good, -5000, 10, 5),                  // before the start
      ReadRequest::Range(good, 0, -7, 6),                      // nonsense length
      ReadRequest::Range(good, 10, 20, 7),
      ReadRequest::WholeFile("", 8),
  };
  auto stream = RunGroups(*engine, {g});
  CheckOrdering(stream, 1);
  auto got = ByTag(stream);
  ASSERT_EQ(got.size(), g.size());
  ExpectBytes(got[0], good, 0, 4097);
  ExpectBytes(got[7], good, 10, 20);
  auto expect_error = [&](uint64_t tag, StatusCode code, const std::string& path,
                          const std::string& fragment) {
    const Completion& c = got[tag];
    EXPECT_EQ(c.status.code(), code) << tag << ": " << c.status.ToString();
    EXPECT_NE(c.status.message().find(path), std::string::npos) << c.status.ToString();
    EXPECT_NE(c.status.message().find(fragment), std::string::npos) << c.status.ToString();
    EXPECT_TRUE(c.data.empty());
  };
  expect_error(1, StatusCode::kNotFound, missing, "No such file");
  expect_error(2, StatusCode::kInvalidArgument, d.dir, "Is a directory");
  expect_error(3, StatusCode::kOutOfRange, good, "bytes [4000, 4098)");
  expect_error(4, StatusCode::kOutOfRange, good, "past the end");
  expect_error(5, StatusCode::kOutOfRange, good, "before the start");
  expect_error(6, StatusCode::kInvalidArgument, good, "negative length");
  expect_error(8, StatusCode::kNotFound, "reading  (whole file)", "No such file");
  engine.reset();
  EXPECT_EQ(CountOpenFds(), fds_before) << "a file stayed open on an error path";
}

TEST_P(EngineTest, PermissionDeniedIsPerRequest) {
  TestData& d = TestData::Get();
  const std::string secret = d.dir + "/secret";
  WriteFile(secret, "top secret");
  ASSERT_EQ(::chmod(secret.c_str(), 0600), 0);
  const std::string open = d.sized[3];
  // As root, EACCES cannot happen; a forked child becomes nobody and reports by exit code.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to the user nobody";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(10);
    EngineOptions o = Options();
    auto engine = Engine::Create(o);
    if (!engine.ok()) ::_exit(11);
    std::vector<ReadRequest> g = {ReadRequest::WholeFile(secret, 0),
                                  ReadRequest::WholeFile(open, 1)};
    if (!(*engine)->Submit(std::move(g)).ok()) ::_exit(12);
    Completion c;
    int seen = 0;
    while ((*engine)->Next(&c)) {
      if (c.kind != Completion::Kind::kRead) continue;
      ++seen;
      if (c.tag == 0) {
        if (c.status.code() != StatusCode::kPermissionDenied) ::_exit(13);
        if (c.status.message().find(secret) == std::string::npos) ::_exit(14);
      } else {
        if (!c.status.ok() || c.data.as_string_view() != Pread(open, 0, 4096)) ::_exit(15);
      }
    }
    ::_exit(seen == 2 ? 0 : 16);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "child failed at check " << WEXITSTATUS(status);
  ::unlink(secret.c_str());
}

TEST_P(EngineTest, EioFailsOnlyThatRequest) {
  TestData& d = TestData::Get();
  const std::string bad = d.sized[5];
  internal::FaultInjection faults;
  faults.read = [bad](std::string_view path, bool) { return path == bad ? EIO : 0; };
  internal::SetFaultInjectionForTesting(faults);
  {
    auto engine = Make();
    ASSERT_TRUE(engine);
    std::vector<ReadRequest> g = {ReadRequest::Range(bad, 10, 100, 0),
                                  ReadRequest::WholeFile(d.sized[2], 1)};
    auto stream = RunGroups(*engine, {g});
    auto got = ByTag(stream);
    EXPECT_EQ(got[0].status.code(), StatusCode::kIOError) << got[0].status.ToString();
    EXPECT_NE(got[0].status.message().find(bad + " bytes [10, 110)"), std::string::npos)
        << got[0].status.ToString();
    EXPECT_NE(got[0].status.message().find("Input/output error"), std::string::npos);
    ExpectBytes(got[1], d.sized[2], 0, 511);
  }
  internal::ClearFaultInjectionForTesting();
}

// Short reads are asked again for the rest, EAGAIN and EINTR are retried: the caller sees
// exactly the bytes pread sees.
TEST_P(EngineTest, ShortReadsAndRetriesAreTransparent) {
  TestData& d = TestData::Get();
  std::atomic<int> calls{0};
  internal::FaultInjection faults;
  faults.read = [&calls](std::string_view, bool) {
    const int n = calls.fetch_add(1);
    return n % 3 == 0 ? EAGAIN : n % 3 == 1 ? EINTR : 0;
  };
  faults.short_read = [](std::string_view) { return uint64_t{8192}; };
  internal::SetFaultInjectionForTesting(faults);
  {
    auto engine = Make();
    ASSERT_TRUE(engine);
    const std::string& p = d.sized.back();  // 1 MiB + 3
    auto stream =
        RunGroups(*engine, {{ReadRequest::WholeFile(p, 0), ReadRequest::Range(p, 5000, 300000, 1),
                             ReadRequest::Range(d.sized[4], 1, 4096, 2)}});
    auto got = ByTag(stream);
    ExpectBytes(got[0], p, 0, FileSize(p));
    ExpectBytes(got[1], p, 5000, 300000);
    ExpectBytes(got[2], d.sized[4], 1, 4096);
    // 1 MiB in pieces of at most 8 KiB, two of three attempts refused.
    EXPECT_GT(engine->stats().device_reads, 3u * (FileSize(p) / 8192));
  }
  internal::ClearFaultInjectionForTesting();
}

TEST_P(EngineTest, TmpfsFileReads) {
  TestData& d = TestData::Get();
  auto engine = Make();
  ASSERT_TRUE(engine);
  auto stream = RunGroups(*engine, {{ReadRequest::WholeFile(d.shm_file, 0),
                                     ReadRequest::Range(d.shm_file, 777, 50000, 1)}});
  auto got = ByTag(stream);
  ExpectBytes(got[0], d.shm_file, 0, 100000);
  ExpectBytes(got[1], d.shm_file, 777, 50000);
}

// tmpfs accepts O_DIRECT since Linux 6.6, so the refusal is simulated: EINVAL at open (old
// tmpfs, overlayfs) and EINVAL at the first read (some FUSE and network file systems).
TEST_P(EngineTest, DirectRefusedAtOpenFallsBackToBuffered) {
  TestData& d = TestData::Get();
  internal::FaultInjection faults;
  faults.open_direct = [](std::string_view) { return EINVAL; };
  internal::SetFaultInjectionForTesting(faults);
  {
    auto engine = Make();
    ASSERT_TRUE(engine);
    auto stream = RunGroups(*engine, {{ReadRequest::WholeFile(d.shm_file, 0),
                                       ReadRequest::Range(d.sized[5], 3, 70000, 1)}});
    auto got = ByTag(stream);
    ExpectBytes(got[0], d.shm_file, 0, 100000);
    ExpectBytes(got[1], d.sized[5], 3, 70000);
    // Buffered reads are exact: no alignment padding.
    EXPECT_EQ(engine->stats().bytes_device, 170000u);
  }
  internal::ClearFaultInjectionForTesting();
}

TEST_P(EngineTest, DirectRefusedAtFirstReadFallsBackToBuffered) {
  TestData& d = TestData::Get();
  EngineOptions o = Options();
  o.direct = true;  // in every variant: this is about O_DIRECT being refused
  std::atomic<int> refused{0};
  internal::FaultInjection faults;
  faults.read = [&refused](std::string_view, bool direct) {
    if (!direct) return 0;
    refused.fetch_add(1);
    return EINVAL;
  };
  internal::SetFaultInjectionForTesting(faults);
  {
    auto engine = Make(o);
    ASSERT_TRUE(engine);
    std::vector<ReadRequest> g;
    for (int i = 0; i < 8; ++i) g.push_back(ReadRequest::Range(d.sized[5], i * 100000, 5000, i));
    auto stream = RunGroups(*engine, {g});
    auto got = ByTag(stream);
    for (int i = 0; i < 8; ++i) ExpectBytes(got[i], d.sized[5], i * 100000, 5000);
    EXPECT_GE(refused.load(), 1);
  }
  internal::ClearFaultInjectionForTesting();
}

TEST_P(EngineTest, BudgetBoundsMemoryAndBlocksSubmit) {
  TestData& d = TestData::Get();
  EngineOptions o = Options();
  o.max_bytes_in_flight = 1 << 20;
  o.coalesce_max_gap = 0;
  o.coalesce_max_size = 256 << 10;
  auto engine = Make(o);
  ASSERT_TRUE(engine);
  const uint64_t kRead = 256 << 10;
  const uint64_t one_read = BufferPool::SizeClass(kRead + 8192);  // with O_DIRECT rounding
  std::vector<ReadRequest> g;
  for (int i = 0; i < 16; ++i) {
    // Spread out so that no two reads merge.
    g.push_back(ReadRequest::Range(d.sparse, int64_t{i} * (8 << 20) + 4096 + i, kRead, i));
  }
  ASSERT_TRUE(engine->Submit(std::move(g)).ok());

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> peak{0};
  std::thread sampler([&] {
    while (!stop.load()) {
      const uint64_t b = engine->bytes_in_flight();
      uint64_t p = peak.load();
      while (b > p && !peak.compare_exchange_weak(p, b)) {
      }
      std::this_thread::yield();
    }
  });

  // A consumer that holds every buffer it gets: the engine must stall at the budget.
  std::vector<Completion> held;
  Completion c;
  while (engine->NextFor(&c, 300)) held.push_back(std::move(c));
  EXPECT_LT(held.size(), 16u) << "the budget did not stop the reads";
  EXPECT_GE(engine->bytes_in_flight(), o.max_bytes_in_flight);
  EXPECT_LE(engine->bytes_in_flight(), o.max_bytes_in_flight + one_read);

  std::vector<ReadRequest> more = {ReadRequest::Range(d.sized[5], 0, 10, 100)};
  Result<uint64_t> tried = engine->TrySubmit(more);
  EXPECT_EQ(tried.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(more.size(), 1u) << "TrySubmit must leave the group untouched";

  std::atomic<bool> submitted{false};
  std::thread submitter([&] {
    Result<uint64_t> id = engine->Submit(std::move(more));
    EXPECT_TRUE(id.ok());
    submitted.store(true);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(submitted.load()) << "Submit returned while the budget was used up";

  // Releasing the held buffers lets everything finish, Submit included.
  held.clear();
  size_t reads = 0;
  while (engine->Next(&c)) {
    if (c.kind == Completion::Kind::kRead) {
      ++reads;
      ASSERT_TRUE(c.status.ok()) << c.status.ToString();
    }
    c = Completion{};  // release at once
    if (reads > 40) break;
  }
  submitter.join();
  EXPECT_TRUE(submitted.load());
  while (engine->Next(&c)) c = Completion{};
  stop.store(true);
  sampler.join();
  EXPECT_LE(peak.load(), o.max_bytes_in_flight + one_read);
}

TEST_P(EngineTest, SteadyStateScanReusesBuffers) {
  TestData& d = TestData::Get();
  EngineOptions o = Options();
  o.max_bytes_in_flight = 2 << 20;
  o.coalesce_max_gap = 0;
  o.coalesce_max_size = 64 << 10;
  auto engine = Make(o);
  ASSERT_TRUE(engine);
  // 100 groups of 50 reads of 64 KiB; each buffer is released as soon as it arrives.
  const uint64_t kRead = 64 << 10;
  size_t reads = 0;
  uint64_t allocations_after_first_group = 0;
  for (int group = 0; group < 100; ++group) {
    std::vector<ReadRequest> g;
    for (int i = 0; i < 50; ++i) {
      g.push_back(
          ReadRequest::Range(d.sparse, ((int64_t{group} * 50 + i) % 3000) * (1 << 20), kRead, i));
    }
    ASSERT_TRUE(engine->Submit(std::move(g)).ok());
    Completion c;
    while (engine->Next(&c)) {
      if (c.kind == Completion::Kind::kRead) {
        ++reads;
        ASSERT_TRUE(c.status.ok());
      }
      c = Completion{};
    }
    if (group == 0) allocations_after_first_group = engine->pool().stats().allocations;
  }
  EXPECT_EQ(reads, 5000u);
  const BufferPool::Stats s = engine->pool().stats();
  // Blocks come from the pool: at most as many as the budget holds, whatever the scan length.
  EXPECT_LE(s.allocations, o.max_bytes_in_flight / kRead + 2);
  EXPECT_LE(s.allocations - allocations_after_first_group, o.max_bytes_in_flight / kRead + 2);
  EXPECT_GE(s.reuses, 5000u - s.allocations);
}

TEST_P(EngineTest, ShutdownWithReadsInFlightIsClean) {
  TestData& d = TestData::Get();
  const int fds_before = CountOpenFds();
  for (int round = 0; round < 3; ++round) {
    auto engine = Make();
    ASSERT_TRUE(engine);
    for (int k = 0; k < 5; ++k) {
      std::vector<ReadRequest> g;
      for (size_t i = 0; i < 2000; ++i) {
        g.push_back(ReadRequest::WholeFile(d.small[(k * 2000 + i) % d.small.size()], i));
      }
      g.push_back(ReadRequest::Range(d.sparse, 0, 64 << 20, 9999));
      // This thread does not drain while submitting, so it must not block on the budget.
      Result<uint64_t> id = engine->TrySubmit(g);
      if (!id.ok()) {
        ASSERT_EQ(id.status().code(), StatusCode::kResourceExhausted) << id.status().ToString();
        break;
      }
    }
    Completion c;
    std::vector<Buffer> kept;  // buffers held past the engine's destruction stay valid
    for (int i = 0; i < 10 * round && engine->Next(&c); ++i) {
      if (!c.data.empty()) kept.push_back(c.data);
    }
    if (round == 1) {
      // Shutdown from another thread while this one waits in Next.
      std::thread t([&] { engine->Shutdown(); });
      while (engine->Next(&c)) {
      }
      t.join();
      EXPECT_FALSE(engine->Next(&c));
      EXPECT_EQ(engine->Submit({}).status().code(), StatusCode::kCancelled);
    }
    engine.reset();  // destroys with reads in flight (rounds 0 and 2)
    for (const Buffer& b : kept) EXPECT_LE(b.size(), uint64_t{64} << 20);
  }
  EXPECT_EQ(CountOpenFds(), fds_before) << "file descriptors leaked";
}

TEST_P(EngineTest, EmptyGroupsAndIdleNext) {
  auto engine = Make();
  ASSERT_TRUE(engine);
  Completion c;
  EXPECT_FALSE(engine->Next(&c)) << "Next must not block with nothing submitted";
  EXPECT_FALSE(engine->NextFor(&c, 10));
  auto stream = RunGroups(*engine, {{}, {}, {ReadRequest::WholeFile(TestData::Get().sized[1], 5)}});
  auto counts = CheckOrdering(stream, 3);
  EXPECT_EQ(counts, (std::vector<size_t>{0, 0, 1}));
}

// ---------------------------------------------------------------------------------------------
// Writes. The reference for what a write left on disk is pread(2) (and stat(2)) on the file.

// A fresh directory for one test and one backend variant (".../w/<Test>/<Variant>/<what>").
std::string ScratchDir(const std::string& what) {
  const std::string dir = TestData::Get().dir + "/w/" +
                          ::testing::UnitTest::GetInstance()->current_test_info()->name() + "/" +
                          what;
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir);
  return dir;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// The file's contents, read with plain pread(2) (the reference).
std::string Contents(const std::string& path) {
  if (!Exists(path)) return "<missing>";
  return Pread(path, 0, FileSize(path));
}

// Checks that a write completed OK with nothing in it, and that `path` now holds `bytes`.
void ExpectWritten(const Completion& c, const std::string& path, const std::string& bytes) {
  EXPECT_EQ(c.kind, Completion::Kind::kWrite) << path;
  ASSERT_TRUE(c.status.ok()) << path << ": " << c.status.ToString();
  EXPECT_TRUE(c.data.empty());
  ASSERT_TRUE(Exists(path)) << path;
  ASSERT_EQ(FileSize(path), bytes.size()) << path;
  EXPECT_TRUE(Contents(path) == bytes) << path << ": contents differ from what was written";
}

void ExpectWriteError(const Completion& c, StatusCode code, int err, const std::string& path,
                      const std::string& fragment) {
  EXPECT_EQ(c.kind, Completion::Kind::kWrite) << path;
  EXPECT_EQ(c.status.code(), code) << c.status.ToString();
  if (err != 0) {
    EXPECT_EQ(c.status.sys_errno(), err) << c.status.ToString();
  }
  EXPECT_NE(c.status.message().find("writing " + path), std::string::npos) << c.status.ToString();
  EXPECT_NE(c.status.message().find(fragment), std::string::npos) << c.status.ToString();
  EXPECT_TRUE(c.data.empty());
}

// Whether files in `dir` can be opened for writing with O_DIRECT (ext4 here; tmpfs before
// Linux 6.6 cannot).
bool DirectWritesWork(const std::string& dir) {
  const std::string probe = dir + "/.direct-probe";
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_DIRECT | O_CLOEXEC, 0644);
  if (fd >= 0) ::close(fd);
  ::unlink(probe.c_str());
  return fd >= 0;
}

// What EngineStats::bytes_written_direct should count for a write of `size` bytes from a
// buffer that is (or not) 4096-aligned: everything but the tail, when O_DIRECT applies.
uint64_t DirectBytes(bool direct_engine, bool direct_fs, bool aligned, uint64_t size) {
  return direct_engine && direct_fs && aligned ? size / 4096 * 4096 : 0;
}

mode_t CurrentUmask() {
  const mode_t m = ::umask(0);
  ::umask(m);
  return m;
}

TEST_P(EngineTest, WriteThenReadBack) {
  const std::string dir = ScratchDir("roundtrip");
  auto engine = Make();
  ASSERT_TRUE(engine);
  // Sizes around pages and the io_uring backend's 4 MiB write pieces.
  const size_t sizes[] = {0, 1, 511, 4096, 4097, (size_t{1} << 20) + 3, (size_t{9} << 20) + 5};
  std::vector<std::string> paths, bytes;
  std::vector<IoRequest> g;
  uint64_t total = 0;
  for (size_t i = 0; i < std::size(sizes); ++i) {
    paths.push_back(dir + "/f" + std::to_string(i));
    bytes.push_back(RandomBytes(sizes[i], 1000 + i));
    g.push_back(IoRequest::Write(paths[i], Buffer::CopyOf(bytes[i]), i));
    EXPECT_EQ(g.back().op, IoOp::kWrite);
    total += sizes[i];
  }
  auto stream = RunGroups(*engine, {g});
  CheckOrdering(stream, 1);
  auto got = ByTag(stream);
  ASSERT_EQ(got.size(), paths.size());
  for (size_t i = 0; i < paths.size(); ++i) {
    ExpectWritten(got[i], paths[i], bytes[i]);
    struct stat st {};
    ASSERT_EQ(::stat(paths[i].c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644 & ~CurrentUmask()) << paths[i];
  }
  const EngineStats s = engine->stats();
  EXPECT_EQ(s.writes, paths.size());
  EXPECT_EQ(s.requests, paths.size());
  EXPECT_EQ(s.bytes_written, total);
  EXPECT_EQ(s.files_opened, paths.size());
  // Buffer::CopyOf is 4096-aligned: with O_DIRECT on, every whole 4096 bytes went directly.
  const bool direct_fs = DirectWritesWork(dir);
  uint64_t direct = 0;
  for (size_t size : sizes) direct += DirectBytes(GetParam().direct, direct_fs, true, size);
  EXPECT_EQ(s.bytes_written_direct, direct);
  EXPECT_EQ(engine->bytes_in_flight(), 0u) << "written bytes still charged";

  // Read back through the engine (O_DIRECT in the direct variants: the page cache holds what
  // was just written) and compare with what was written.
  std::vector<IoRequest> reads;
  for (size_t i = 0; i < paths.size(); ++i) reads.push_back(IoRequest::WholeFile(paths[i], i));
  stream = RunGroups(*engine, {reads}, 1);
  got = ByTag(stream);
  for (size_t i = 0; i < paths.size(); ++i) {
    ASSERT_TRUE(got[i].status.ok()) << got[i].status.ToString();
    EXPECT_EQ(got[i].kind, Completion::Kind::kRead);
    EXPECT_TRUE(got[i].data.as_string_view() == bytes[i]) << paths[i];
  }

  // Overwriting truncates: a shorter value leaves no trace of the longer one.
  const std::string shorter = "ten bytes!";
  stream = RunGroups(*engine, {{IoRequest::Write(paths[6], Buffer::CopyOf(shorter), 0)}}, 2);
  got = ByTag(stream);
  ExpectWritten(got[0], paths[6], shorter);
}

TEST_P(EngineTest, WriteSyncAndSlices) {
  const std::string dir = ScratchDir("sync");
  auto engine = Make();
  ASSERT_TRUE(engine);
  // Slices of one block at odd offsets (buffered whatever the options) and at an aligned one
  // (O_DIRECT when on), with and without fdatasync.
  const std::string all = RandomBytes(300000, 7);
  const Buffer block = Buffer::CopyOf(all);
  WriteOptions sync;
  sync.sync = true;
  std::vector<IoRequest> g = {
      IoRequest::Write(dir + "/a", block.Slice(1, 100000), 0, sync),
      IoRequest::Write(dir + "/b", block.Slice(100001, 150000), 1),
      IoRequest::Write(dir + "/c", block.Slice(3, 0), 2, sync),
      IoRequest::Write(dir + "/d", block.Slice(8192, 10000), 3, sync),
      IoRequest::Write(dir + "/e", block.Slice(20480, 4095), 4),
  };
  auto stream = RunGroups(*engine, {g});
  auto got = ByTag(stream);
  ExpectWritten(got[0], dir + "/a", all.substr(1, 100000));
  ExpectWritten(got[1], dir + "/b", all.substr(100001, 150000));
  ExpectWritten(got[2], dir + "/c", "");
  ExpectWritten(got[3], dir + "/d", all.substr(8192, 10000));
  ExpectWritten(got[4], dir + "/e", all.substr(20480, 4095));
  EXPECT_EQ(engine->stats().bytes_written_direct,
            DirectBytes(GetParam().direct, DirectWritesWork(dir), true, 10000));
  // The engine let go of its references once the writes were done.
  g.clear();
  EXPECT_EQ(block.use_count(), 1);
}

TEST_P(EngineTest, ManyWritesInOneGroupCreateTheirDirectories) {
  const std::string dir = ScratchDir("many");
  auto engine = Make();
  ASSERT_TRUE(engine);
  const int fds_before = CountOpenFds();
  constexpr size_t kFiles = 3000;
  std::vector<std::string> paths, bytes;
  std::vector<IoRequest> g;
  for (size_t i = 0; i < kFiles; ++i) {
    // Nested directories that do not exist yet, shared by many files (created concurrently).
    paths.push_back(dir + "/c/" + std::to_string(i % 7) + "/" + std::to_string(i % 31) + "/k" +
                    std::to_string(i));
    bytes.push_back(RandomBytes(i % 5000, i));
    g.push_back(IoRequest::Write(paths[i], Buffer::CopyOf(bytes[i]), i));
  }
  auto stream = RunGroups(*engine, {g});
  auto counts = CheckOrdering(stream, 1);
  EXPECT_EQ(counts[0], kFiles);
  auto got = ByTag(stream);
  ASSERT_EQ(got.size(), kFiles);
  for (size_t i = 0; i < kFiles; ++i) ExpectWritten(got[i], paths[i], bytes[i]);
  EXPECT_EQ(engine->stats().writes, kFiles);
  EXPECT_EQ(engine->stats().files_opened, kFiles);
  EXPECT_EQ(CountOpenFds(), fds_before) << "file descriptors leaked";
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/c/3/5").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0755 & ~CurrentUmask());
}

TEST_P(EngineTest, ReadsAndWritesMixInGroups) {
  TestData& d = TestData::Get();
  const std::string dir = ScratchDir("mixed");
  // RunGroups holds every read buffer until the end: the default budget covers them all.
  auto engine = Make();
  ASSERT_TRUE(engine);
  std::mt19937_64 rng(21);
  struct Want {
    bool write;
    std::string path, bytes;
    uint64_t offset, length;
  };
  std::vector<Want> want;
  std::vector<std::vector<IoRequest>> groups(40);
  std::vector<size_t> per_group;
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const size_t n = rng() % 10;
    for (size_t k = 0; k < n; ++k) {
      if (rng() % 2 == 0) {
        const std::string path = dir + "/g" + std::to_string(gi) + "/k" + std::to_string(k);
        const std::string bytes = RandomBytes(rng() % 200000, rng());
        groups[gi].push_back(IoRequest::Write(path, Buffer::CopyOf(bytes), want.size()));
        want.push_back({true, path, bytes, 0, 0});
      } else {
        const std::string& p = d.sized[rng() % d.sized.size()];
        const uint64_t size = FileSize(p);
        const uint64_t len = size == 0 ? 0 : rng() % size;
        const uint64_t off = size == len ? 0 : rng() % (size - len);
        groups[gi].push_back(IoRequest::Range(p, static_cast<int64_t>(off),
                                              static_cast<int64_t>(len), want.size()));
        want.push_back({false, p, "", off, len});
      }
    }
    per_group.push_back(groups[gi].size());
  }
  auto stream = RunGroups(*engine, groups);
  EXPECT_EQ(CheckOrdering(stream, groups.size()), per_group);
  auto got = ByTag(stream);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i].write) {
      ExpectWritten(got[i], want[i].path, want[i].bytes);
    } else {
      EXPECT_EQ(got[i].kind, Completion::Kind::kRead);
      ExpectBytes(got[i], want[i].path, want[i].offset, want[i].length);
    }
  }
  // A read submitted after a write's completion was delivered sees the written bytes.
  const std::string path = dir + "/then-read";
  const std::string bytes = RandomBytes(123457, 3);
  stream = RunGroups(*engine, {{IoRequest::Write(path, Buffer::CopyOf(bytes), 0)}}, 40);
  ASSERT_TRUE(ByTag(stream)[0].status.ok());
  stream = RunGroups(*engine, {{IoRequest::WholeFile(path, 0), IoRequest::Range(path, -3, 3, 1)}},
                     41);
  got = ByTag(stream);
  ASSERT_TRUE(got[0].status.ok()) << got[0].status.ToString();
  EXPECT_TRUE(got[0].data.as_string_view() == bytes);
  EXPECT_TRUE(got[1].data.as_string_view() == bytes.substr(bytes.size() - 3));
}

TEST_P(EngineTest, ConflictingRequestsForAWrittenPathFail) {
  TestData& d = TestData::Get();
  const std::string dir = ScratchDir("conflict");
  const std::string target = dir + "/target";
  WriteFile(target, "old contents");
  auto engine = Make();
  ASSERT_TRUE(engine);
  IoRequest ranged = IoRequest::Write(dir + "/ranged", Buffer::CopyOf("x"), 5);
  ranged.offset = 10;
  std::vector<IoRequest> g = {
      IoRequest::Write(target, Buffer::CopyOf("new"), 0),
      IoRequest::WholeFile(target, 1),                   // read of a written path
      IoRequest::Write(dir + "/twice", Buffer::CopyOf("a"), 2),
      IoRequest::Write(dir + "/twice", Buffer::CopyOf("b"), 3),
      IoRequest::Write(dir + "/fine", Buffer::CopyOf("fine"), 4),
      std::move(ranged),
      IoRequest::WholeFile(d.sized[1], 6),
  };
  auto stream = RunGroups(*engine, {g});
  CheckOrdering(stream, 1);
  auto got = ByTag(stream);
  ASSERT_EQ(got.size(), 7u);
  ExpectWriteError(got[0], StatusCode::kInvalidArgument, 0, target, "requests for a path");
  EXPECT_EQ(got[1].kind, Completion::Kind::kRead);
  EXPECT_EQ(got[1].status.code(), StatusCode::kInvalidArgument) << got[1].status.ToString();
  EXPECT_NE(got[1].status.message().find("reading " + target), std::string::npos);
  ExpectWriteError(got[2], StatusCode::kInvalidArgument, 0, dir + "/twice", "requests for");
  ExpectWriteError(got[3], StatusCode::kInvalidArgument, 0, dir + "/twice", "requests for");
  ExpectWritten(got[4], dir + "/fine", "fine");
  ExpectWriteError(got[5], StatusCode::kInvalidArgument, 0, dir + "/ranged", "whole file");
  ExpectBytes(got[6], d.sized[1], 0, 1);
  // Nothing was done to the paths of refused requests.
  EXPECT_EQ(Contents(target), "old contents");
  EXPECT_FALSE(Exists(dir + "/twice"));
  EXPECT_FALSE(Exists(dir + "/ranged"));
}

TEST_P(EngineTest, WriteErrorsArePerRequest) {
  TestData& d = TestData::Get();
  const std::string dir = ScratchDir("errors");
  const int fds_before = CountOpenFds();
  auto engine = Make();
  ASSERT_TRUE(engine);
  const std::string file = d.sized[2];
  WriteOptions no_parents;
  no_parents.create_parents = false;
  WriteOptions exclusive;
  exclusive.exclusive = true;
  const std::string existing = dir + "/existing";
  WriteFile(existing, "keep me");
  std::vector<IoRequest> g = {
      IoRequest::Write(existing, Buffer::CopyOf(RandomBytes(10000, 1)), 6, exclusive),
      IoRequest::Write(dir + "/sub/new", Buffer::CopyOf("new"), 7, exclusive),
      IoRequest::Write(file + "/under-a-file", Buffer::CopyOf("x"), 0),
      IoRequest::Write(file + "/deeper/under-a-file", Buffer::CopyOf("x"), 1),
      IoRequest::Write(dir + "/missing/x", Buffer::CopyOf("x"), 2, no_parents),
      IoRequest::Write(dir, Buffer::CopyOf("x"), 3),  // a directory
      IoRequest::Write("", Buffer::CopyOf("x"), 4),
      IoRequest::Write(dir + "/ok", Buffer::CopyOf("ok"), 5),
  };
  auto stream = RunGroups(*engine, {g});
  CheckOrdering(stream, 1);
  auto got = ByTag(stream);
  ASSERT_EQ(got.size(), g.size());
  ExpectWriteError(got[0], StatusCode::kNotFound, ENOTDIR, file + "/under-a-file",
                   "Not a directory");
  ExpectWriteError(got[1], StatusCode::kNotFound, ENOTDIR, file + "/deeper/under-a-file",
                   "Not a directory");
  ExpectWriteError(got[2], StatusCode::kNotFound, ENOENT, dir + "/missing/x", "No such file");
  EXPECT_FALSE(Exists(dir + "/missing")) << "create_parents = false created a directory";
  ExpectWriteError(got[3], StatusCode::kInvalidArgument, EISDIR, dir, "Is a directory");
  ExpectWriteError(got[4], StatusCode::kNotFound, ENOENT, "", "No such file");
  ExpectWritten(got[5], dir + "/ok", "ok");
  ExpectWriteError(got[6], StatusCode::kIOError, EEXIST, existing, "File exists");
  EXPECT_EQ(Contents(existing), "keep me");
  ExpectWritten(got[7], dir + "/sub/new", "new");
  engine.reset();
  EXPECT_EQ(CountOpenFds(), fds_before) << "a file stayed open on an error path";
}

// As root, EACCES cannot happen; a forked child becomes nobody and reports by exit code.
TEST_P(EngineTest, WritePermissionDenied) {
  const std::string dir = ScratchDir("eacces");
  ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);
  ASSERT_EQ(::chmod((TestData::Get().dir + "/w").c_str(), 0755), 0);
  const std::string open_dir = dir + "/open";
  fs::create_directory(open_dir);
  ASSERT_EQ(::chmod(open_dir.c_str(), 0777), 0);
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to the user nobody";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(10);
    auto engine = Engine::Create(Options());
    if (!engine.ok()) ::_exit(11);
    std::vector<IoRequest> g = {IoRequest::Write(dir + "/x", Buffer::CopyOf("x"), 0),
                                IoRequest::Write(dir + "/sub/x", Buffer::CopyOf("x"), 1),
                                IoRequest::Write(open_dir + "/y", Buffer::CopyOf("yes"), 2)};
    if (!(*engine)->Submit(std::move(g)).ok()) ::_exit(12);
    Completion c;
    int seen = 0;
    while ((*engine)->Next(&c)) {
      if (c.kind == Completion::Kind::kEndOfGroup) continue;
      if (c.kind != Completion::Kind::kWrite) ::_exit(13);
      ++seen;
      if (c.tag == 2) {
        if (!c.status.ok()) ::_exit(14);
        continue;
      }
      if (c.status.code() != StatusCode::kPermissionDenied) ::_exit(15);
      if (c.status.sys_errno() != EACCES) ::_exit(16);
      const std::string path = c.tag == 0 ? dir + "/x" : dir + "/sub/x";
      if (c.status.message().find("writing " + path) == std::string::npos) ::_exit(17);
      if (c.tag == 1 && c.status.message().find("parent directories") == std::string::npos) {
        ::_exit(18);
      }
    }
    ::_exit(seen == 3 ? 0 : 19);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "child failed at check " << WEXITSTATUS(status);
  EXPECT_FALSE(Exists(dir + "/x"));
  EXPECT_FALSE(Exists(dir + "/sub"));
  EXPECT_EQ(Contents(open_dir + "/y"), "yes");
}

// A real full file system: a 64 KiB tmpfs mounted in a private mount namespace of a child.
TEST_P(EngineTest, WriteToFullFileSystemIsEnospc) {
  const std::string dir = ScratchDir("enospc");
  const std::string mnt = dir + "/mnt";
  fs::create_directory(mnt);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::unshare(CLONE_NEWNS) != 0) ::_exit(77);
    if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(77);
    if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=64k") != 0) ::_exit(77);
    auto engine = Engine::Create(Options());
    if (!engine.ok()) ::_exit(11);
    const std::string small = RandomBytes(1000, 1);
    const std::string big = RandomBytes(1 << 20, 2);
    WriteOptions sync;
    sync.sync = true;
    // The small file first (its own group, finished before the next starts: with two rings
    // groups run side by side, and the big writes could fill the file system first), then
    // writes that cannot fit.
    std::vector<std::vector<IoRequest>> first = {
        {IoRequest::Write(mnt + "/small", Buffer::CopyOf(small), 0)}};
    std::vector<std::vector<IoRequest>> second = {
        {IoRequest::Write(mnt + "/big", Buffer::CopyOf(big), 1),
         IoRequest::Write(mnt + "/big-synced", Buffer::CopyOf(big), 2, sync)}};
    auto stream = RunGroups(**engine, first);
    auto rest = RunGroups(**engine, second, /*first_group=*/1);
    stream.insert(stream.end(), rest.begin(), rest.end());
    auto got = ByTag(stream);
    if (got.size() != 3) ::_exit(12);
    if (!got[0].status.ok() || Contents(mnt + "/small") != small) ::_exit(13);
    for (uint64_t tag : {1, 2}) {
      const Completion& c = got[tag];
      if (c.status.code() != StatusCode::kResourceExhausted) ::_exit(14);
      if (c.status.sys_errno() != ENOSPC) ::_exit(15);
      const std::string path = mnt + (tag == 1 ? "/big" : "/big-synced");
      if (c.status.message().find("writing " + path + ": ") == std::string::npos) ::_exit(16);
      if (c.status.message().find("No space left on device") == std::string::npos) ::_exit(17);
    }
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "cannot mount a tmpfs here";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "child failed at check " << WEXITSTATUS(status);
}

TEST_P(EngineTest, InjectedWriteAndSyncErrorsArePerRequest) {
  const std::string dir = ScratchDir("inject");
  const std::string eio = dir + "/eio", enospc = dir + "/enospc", bad_sync = dir + "/bad-sync";
  internal::FaultInjection faults;
  faults.write = [=](std::string_view path, bool) {
    return path == eio ? EIO : path == enospc ? ENOSPC : 0;
  };
  faults.sync = [=](std::string_view path) { return path == bad_sync ? EIO : 0; };
  internal::SetFaultInjectionForTesting(faults);
  {
    auto engine = Make();
    ASSERT_TRUE(engine);
    WriteOptions sync;
    sync.sync = true;
    const std::string bytes = RandomBytes(50000, 4);
    std::vector<IoRequest> g = {
        IoRequest::Write(eio, Buffer::CopyOf(bytes), 0),
        IoRequest::Write(enospc, Buffer::CopyOf(bytes), 1, sync),
        IoRequest::Write(bad_sync, Buffer::CopyOf(bytes), 2, sync),
        IoRequest::Write(dir + "/good", Buffer::CopyOf(bytes), 3, sync),
    };
    auto stream = RunGroups(*engine, {g});
    CheckOrdering(stream, 1);
    auto got = ByTag(stream);
    ExpectWriteError(got[0], StatusCode::kIOError, EIO, eio, "write at byte 0: Input/output");
    ExpectWriteError(got[1], StatusCode::kResourceExhausted, ENOSPC, enospc,
                     "No space left on device");
    ExpectWriteError(got[2], StatusCode::kIOError, EIO, bad_sync, "fdatasync: Input/output");
    ExpectWritten(got[3], dir + "/good", bytes);
    EXPECT_EQ(engine->bytes_in_flight(), 0u);
  }
  internal::ClearFaultInjectionForTesting();
}

// O_DIRECT refused by the file system, at open (EINVAL from open: old tmpfs, overlayfs) or at
// the first write (some FUSE and network file systems): the write goes through the page cache.
TEST_P(EngineTest, DirectWriteRefusedFallsBackToBuffered) {
  const std::string dir = ScratchDir("refused");
  const std::string at_open = dir + "/refused-at-open", at_write = dir + "/refused-at-write";
  std::atomic<int> refused_writes{0};
  internal::FaultInjection faults;
  faults.open_direct = [=](std::string_view path) { return path == at_open ? EINVAL : 0; };
  faults.write = [=, &refused_writes](std::string_view path, bool direct) {
    if (path != at_write || !direct) return 0;
    refused_writes.fetch_add(1);
    return EINVAL;
  };
  internal::SetFaultInjectionForTesting(faults);
  {
    EngineOptions o = Options();
    o.direct = true;  // in every variant: this is about O_DIRECT being refused
    auto engine = Make(o);
    ASSERT_TRUE(engine);
    const std::string a = RandomBytes((size_t{9} << 20) + 77, 8);
    const std::string b = RandomBytes((size_t{9} << 20) + 78, 9);
    const std::string c = RandomBytes(100000, 10);
    auto stream = RunGroups(*engine, {{IoRequest::Write(at_open, Buffer::CopyOf(a), 0),
                                       IoRequest::Write(at_write, Buffer::CopyOf(b), 1),
                                       IoRequest::Write(dir + "/direct", Buffer::CopyOf(c), 2)}});
    auto got = ByTag(stream);
    ExpectWritten(got[0], at_open, a);
    ExpectWritten(got[1], at_write, b);
    ExpectWritten(got[2], dir + "/direct", c);
    EXPECT_GE(refused_writes.load(), 1);
    const EngineStats s = engine->stats();
    // Only the third file went directly; refused writes are not counted as written.
    EXPECT_EQ(s.bytes_written_direct, DirectBytes(true, DirectWritesWork(dir), true, c.size()));
    EXPECT_EQ(s.bytes_written, a.size() + b.size() + c.size());
  }
  internal::ClearFaultInjectionForTesting();
}

// Short writes continue where they stopped, EAGAIN and EINTR are retried, and writes larger
// than the largest piece (lowered by the test hook) go in pieces: the file is exact.
TEST_P(EngineTest, ShortWritesRetriesAndPiecesAreTransparent) {
  const std::string dir = ScratchDir("short");
  std::atomic<int> calls{0};
  internal::FaultInjection faults;
  faults.write = [&calls](std::string_view, bool) {
    const int n = calls.fetch_add(1);
    return n % 3 == 0 ? EAGAIN : n % 3 == 1 ? EINTR : 0;
  };
  faults.short_write = [](std::string_view path) {
    return path.ends_with("short") ? uint64_t{10000} : uint64_t{0};
  };
  faults.max_io_bytes = 64 << 10;
  internal::SetFaultInjectionForTesting(faults);
  {
    auto engine = Make();
    ASSERT_TRUE(engine);
    const std::string a = RandomBytes((size_t{5} << 20) + 7, 5);
    const std::string b = RandomBytes(300001, 6);
    auto stream = RunGroups(*engine, {{IoRequest::Write(dir + "/pieces", Buffer::CopyOf(a), 0),
                                       IoRequest::Write(dir + "/short", Buffer::CopyOf(b), 1)}});
    auto got = ByTag(stream);
    ExpectWritten(got[0], dir + "/pieces", a);
    ExpectWritten(got[1], dir + "/short", b);
    const EngineStats s = engine->stats();
    // Two of three attempts refused; at most 64 KiB per call; at most 10,000 bytes per call
    // counted for the short file.
    EXPECT_GE(s.device_writes, 3 * ((a.size() >> 16) + b.size() / 10000));
    EXPECT_EQ(s.bytes_written, a.size() + b.size());
    // With O_DIRECT, the short file's first 10,000 bytes went directly; the next direct write,
    // at an unaligned offset, was refused by the kernel (EINVAL) and the rest was buffered.
    const bool direct = GetParam().direct && DirectWritesWork(dir);
    EXPECT_EQ(s.bytes_written_direct, direct ? a.size() / 4096 * 4096 + 10000 : 0);
  }
  internal::ClearFaultInjectionForTesting();
}

// One write larger than kMaxIoBytes (1 GiB), for real. Only the two main variants: it writes
// and compares a gigabyte.
TEST_P(EngineTest, WriteLargerThanOneGiB) {
  if (!GetParam().main_variant) GTEST_SKIP() << "main variants only";
  const std::string dir = ScratchDir("large");
  const std::string path = dir + "/big";
  const uint64_t size = (uint64_t{1} << 30) + 4099;
  Result<Buffer> buffer = Buffer::Allocate(size);
  ASSERT_TRUE(buffer.ok());
  // A pattern that differs in every 8-byte word, so a piece written at the wrong offset shows.
  for (uint64_t i = 0; i + 8 <= size; i += 8) {
    const uint64_t v = i * 0x9E3779B97F4A7C15ull;
    std::memcpy(buffer->mutable_data() + i, &v, 8);
  }
  std::memset(buffer->mutable_data() + (size & ~uint64_t{7}), 0xAB, size & 7);
  {
    auto engine = Make();
    ASSERT_TRUE(engine);
    auto stream = RunGroups(*engine, {{IoRequest::Write(path, *buffer, 0)}});
    auto got = ByTag(stream);
    ASSERT_TRUE(got[0].status.ok()) << got[0].status.ToString();
    EXPECT_EQ(engine->stats().bytes_written, size);
  }
  ASSERT_EQ(FileSize(path), size);
  const uint64_t kSlice = uint64_t{64} << 20;
  for (uint64_t off = 0; off < size; off += kSlice) {
    const uint64_t n = std::min(kSlice, size - off);
    ASSERT_TRUE(Pread(path, off, n) == buffer->as_string_view().substr(off, n))
        << "the file differs from the data at " << off;
  }
  ::unlink(path.c_str());
}

// Submit and TrySubmit count the bytes of writes not yet finished against the budget.
TEST_P(EngineTest, PendingWritesHoldBackSubmit) {
  const std::string dir = ScratchDir("budget");
  std::atomic<bool> release{false};
  internal::FaultInjection faults;
  // Holds every write on the IO thread until the test lets go.
  faults.write = [&release](std::string_view, bool) {
    while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return 0;
  };
  internal::SetFaultInjectionForTesting(faults);
  {
    EngineOptions o = Options();
    o.max_bytes_in_flight = 1 << 20;
    auto engine = Make(o);
    ASSERT_TRUE(engine);
    std::vector<IoRequest> g;
    for (int i = 0; i < 4; ++i) {
      g.push_back(IoRequest::Write(dir + "/w" + std::to_string(i),
                                   Buffer::CopyOf(RandomBytes(1 << 20, i)), i));
    }
    ASSERT_TRUE(engine->TrySubmit(g).ok());
    EXPECT_EQ(engine->bytes_in_flight(), uint64_t{4} << 20);
    std::vector<IoRequest> more = {IoRequest::WholeFile(TestData::Get().sized[1], 0)};
    EXPECT_EQ(engine->TrySubmit(more).status().code(), StatusCode::kResourceExhausted);
    EXPECT_EQ(more.size(), 1u);
    release.store(true);
    Completion c;
    size_t writes = 0;
    while (engine->Next(&c)) {
      if (c.kind == Completion::Kind::kWrite) {
        ++writes;
        EXPECT_TRUE(c.status.ok()) << c.status.ToString();
      }
    }
    EXPECT_EQ(writes, 4u);
    EXPECT_EQ(engine->bytes_in_flight(), 0u);
    EXPECT_TRUE(engine->TrySubmit(more).ok());
    while (engine->Next(&c)) {
    }
  }
  internal::ClearFaultInjectionForTesting();
}

// Shutting down with writes queued and in flight: the started ones run to their end, the
// others leave no file; nothing leaks.
TEST_P(EngineTest, ShutdownWithWritesInFlightIsClean) {
  const std::string dir = ScratchDir("shutdown");
  const int fds_before = CountOpenFds();
  static const std::vector<std::string> contents = [] {
    std::vector<std::string> c(1000);
    for (size_t i = 0; i < c.size(); ++i) c[i] = RandomBytes(i * 397 % 60000, i);
    return c;
  }();
  for (int round = 0; round < 3; ++round) {
    const std::string rdir = dir + "/r" + std::to_string(round);
    auto engine = Make();
    ASSERT_TRUE(engine);
    std::vector<Buffer> held;  // the caller's own references to the written bytes
    for (int k = 0; k < 5; ++k) {
      std::vector<IoRequest> g;
      for (size_t i = 0; i < 200; ++i) {
        const size_t n = k * 200 + i;
        held.push_back(Buffer::CopyOf(contents[n]));
        g.push_back(IoRequest::Write(rdir + "/" + std::to_string(n % 10) + "/f" +
                                         std::to_string(n),
                                     held.back(), n));
      }
      g.push_back(IoRequest::Range(TestData::Get().sparse, 0, 16 << 20, 9999));
      Result<uint64_t> id = engine->TrySubmit(g);
      if (!id.ok()) {
        ASSERT_EQ(id.status().code(), StatusCode::kResourceExhausted) << id.status().ToString();
        break;
      }
    }
    Completion c;
    for (int i = 0; i < 30 * round && engine->Next(&c); ++i) {
    }
    if (round == 1) {
      std::thread t([&] { engine->Shutdown(); });
      while (engine->Next(&c)) {
      }
      t.join();
      EXPECT_FALSE(engine->Next(&c));
      EXPECT_EQ(engine->Submit({}).status().code(), StatusCode::kCancelled);
      // Every write finished or was dropped: none is charged any more.
      c = Completion{};
      EXPECT_EQ(engine->bytes_in_flight(), engine->pool().stats().bytes_outstanding);
    }
    engine.reset();
    // The engine holds no reference to any written buffer after its destruction.
    for (const Buffer& b : held) EXPECT_LE(b.use_count(), 1);
    for (size_t n = 0; n < held.size(); ++n) {
      const std::string path = rdir + "/" + std::to_string(n % 10) + "/f" + std::to_string(n);
      if (!Exists(path)) continue;
      EXPECT_TRUE(Contents(path) == contents[n]) << path << " was left partly written";
    }
  }
  EXPECT_EQ(CountOpenFds(), fds_before) << "file descriptors leaked";
}

const BackendParam kParams[] = {
    {"Uring", Backend::kUring, 0, true, true},
    {"UringTwoRings", Backend::kUring, 2, true, false},
    {"UringBuffered", Backend::kUring, 0, false, false},
    {"Posix", Backend::kPosix, 0, true, true},
    {"PosixBuffered", Backend::kPosix, 4, false, false},
};
INSTANTIATE_TEST_SUITE_P(Backends, EngineTest, ::testing::ValuesIn(kParams), ParamName);

// ---------------------------------------------------------------------------------------------
// Backend selection.

TEST(EngineCreateTest, ParseBackend) {
  EXPECT_EQ(*ParseBackend("auto"), Backend::kAuto);
  EXPECT_EQ(*ParseBackend("uring"), Backend::kUring);
  EXPECT_EQ(*ParseBackend("io_uring"), Backend::kUring);
  EXPECT_EQ(*ParseBackend("posix"), Backend::kPosix);
  EXPECT_EQ(*ParseBackend("pread"), Backend::kPosix);
  EXPECT_EQ(ParseBackend("aio").status().code(), StatusCode::kInvalidArgument);
}

TEST(EngineCreateTest, AutoPrefersUringHere) {
  int notices = 0;
  EngineOptions o;
  o.notice = [&](std::string_view) { ++notices; };
  auto e = Engine::Create(o);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)->backend_name(), "io_uring");
  EXPECT_EQ(notices, 0);
}

TEST(EngineCreateTest, EnvironmentChoosesBackend) {
  EngineOptions o;
  ::setenv("LSIO_IO", "posix", 1);
  auto e = Engine::Create(o);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)->backend_name(), "posix");
  ::setenv("LSIO_IO", "uring", 1);
  e = Engine::Create(o);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)->backend_name(), "io_uring");
  ::setenv("LSIO_IO", "bogus", 1);
  e = Engine::Create(o);
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
  ::unsetenv("LSIO_IO");
}

TEST(EngineCreateTest, RejectsBadOptions) {
  EngineOptions o;
  o.queue_depth = 0;
  EXPECT_EQ(Engine::Create(o).status().code(), StatusCode::kInvalidArgument);
  o = EngineOptions{};
  o.max_bytes_in_flight = 0;
  EXPECT_EQ(Engine::Create(o).status().code(), StatusCode::kInvalidArgument);
}

// Reads a fixed set through `engine` and returns "tag:status:bytes" lines, to compare the
// answers of two backends.
std::vector<std::string> Answers(Engine& engine) {
  TestData& d = TestData::Get();
  std::vector<ReadRequest> g = {ReadRequest::WholeFile(d.sized[5], 0),
                                ReadRequest::Range(d.sized[4], 100, 200, 1),
                                ReadRequest::WholeFile(d.dir + "/missing", 2)};
  auto stream = RunGroups(engine, {g});
  std::vector<std::string> out;
  for (auto& [tag, c] : ByTag(stream)) {
    out.push_back(std::to_string(tag) + ":" + c.status.ToString() + ":" +
                  std::string(c.data.as_string_view()));
  }
  return out;
}

TEST(EngineFallbackTest, UringSetupRefusedFallsBackWithOneNotice) {
  std::vector<std::string> reference;
  {
    EngineOptions o;
    o.backend = Backend::kUring;
    auto e = Engine::Create(o);
    ASSERT_TRUE(e.ok());
    reference = Answers(**e);
  }
  internal::FaultInjection faults;
  faults.uring_setup = [] { return EPERM; };
  internal::SetFaultInjectionForTesting(faults);
  std::vector<std::string> notices;
  EngineOptions o;
  o.threads = 2;  // both rings fail; still one notice
  o.notice = [&](std::string_view text) { notices.emplace_back(text); };
  {
    auto e = Engine::Create(o);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    EXPECT_EQ((*e)->backend_name(), "posix");
    EXPECT_EQ(Answers(**e), reference);
  }
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_NE(notices[0].find("Operation not permitted"), std::string::npos) << notices[0];
  // Asking for io_uring explicitly fails instead of falling back.
  o.backend = Backend::kUring;
  EXPECT_EQ(Engine::Create(o).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(notices.size(), 1u);
  internal::ClearFaultInjectionForTesting();
}

// The real thing: a child process whose seccomp filter makes io_uring_setup fail with EPERM,
// as container runtimes do.
TEST(EngineFallbackTest, SeccompRefusalFallsBackWithOneNotice) {
  std::vector<std::string> reference;
  {
    EngineOptions o;
    o.backend = Backend::kPosix;
    auto e = Engine::Create(o);
    ASSERT_TRUE(e.ok());
    reference = Answers(**e);
  }
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(sizeof(filter) / sizeof(filter[0])), filter};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(20);
    if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) ::_exit(21);
    int notices = 0;
    EngineOptions o;
    o.notice = [&](std::string_view) { ++notices; };
    auto e = Engine::Create(o);
    if (!e.ok()) ::_exit(22);
    if ((*e)->backend_name() != "posix") ::_exit(23);
    if (Answers(**e) != reference) ::_exit(24);
    e = Result<std::unique_ptr<Engine>>(CancelledError("done"));
    ::_exit(notices == 1 ? 0 : 25);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "child failed at check " << WEXITSTATUS(status);
}

}  // namespace
}  // namespace lsio::io
