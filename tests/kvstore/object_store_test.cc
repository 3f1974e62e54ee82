// S3Store and HttpStore against servers started here on 127.0.0.1 (object_servers.h): moto
// (S3 semantics), rclone serve s3 (SigV4 checked; its buckets are directories, an independent
// view of what was written), nginx (plain HTTP ranges), and the fault proxy in front of them.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <set>
#include <sstream>

#include "../../src/kvstore/object_store_internal.h"
#include "lsio/kvstore/http_store.h"
#include "lsio/kvstore/open.h"
#include "lsio/kvstore/s3_store.h"
#include "object_servers.h"

namespace lsio::kvstore {
namespace {

namespace fs = std::filesystem;
using internal::FetchRange;
using internal::ResolveBodyWindow;
using testing::kTestKey;
using testing::kTestSecret;
using Kind = FetchRange::Kind;

std::string Pattern(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  std::mt19937 rng(seed);
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

std::span<const std::byte> Bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

std::string AsString(const Buffer& b) { return std::string(b.as_string_view()); }

void WriteFile(const fs::path& p, const std::string& data) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << data;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---------------------------------------------------------------------------------------------
// What a response to a range means (a table, as coalesce_test.cc does it).

TEST(BodyWindow, EveryLegalAnswerToARange) {
  auto h = [](std::initializer_list<std::pair<const std::string, std::string>> l) {
    return io::http::HeaderMap(l);
  };
  struct Case {
    FetchRange range;
    int status;
    io::http::HeaderMap headers;
    StatusCode code;
    uint64_t skip;
    std::optional<uint64_t> length, size;
  };
  const Case cases[] = {
      // 206 as asked.
      {{Kind::kRange, 10, 20}, 206, h({{"content-range", "bytes 10-29/100"}}), StatusCode::kOk, 0, 20, 100},
      // 206 starting earlier than asked (a server rounding out): skip the extra.
      {{Kind::kRange, 10, 20}, 206, h({{"content-range", "bytes 0-49/100"}}), StatusCode::kOk, 10, 20, 100},
      // A range past the end comes back cut: the window is cut.
      {{Kind::kRange, 90, 20}, 206, h({{"content-range", "bytes 90-99/100"}}), StatusCode::kOk, 0, 10, 100},
      // 200 with Content-Range (allowed by some servers).
      {{Kind::kRange, 10, 20}, 200, h({{"content-range", "bytes 10-29/100"}}), StatusCode::kOk, 0, 20, 100},
      // 200 with the whole value: cut the range out of it.
      {{Kind::kRange, 10, 20}, 200, h({{"content-length", "100"}}), StatusCode::kOk, 10, 20, 100},
      {{Kind::kRange, 100, 5}, 200, h({{"content-length", "100"}}), StatusCode::kOutOfRange, 0, {}, {}},
      // Suffixes.
      {{Kind::kSuffix, 0, 16}, 206, h({{"content-range", "bytes 84-99/100"}}), StatusCode::kOk, 0, 16, 100},
      {{Kind::kSuffix, 0, 16}, 200, h({{"content-length", "100"}}), StatusCode::kOk, 84, 16, 100},
      {{Kind::kSuffix, 0, 160}, 206, h({{"content-range", "bytes 0-99/100"}}), StatusCode::kOutOfRange, 0, {}, {}},
      {{Kind::kSuffix, 0, 160}, 200, h({{"content-length", "100"}}), StatusCode::kOutOfRange, 0, {}, {}},
      // From an offset to the end.
      {{Kind::kFrom, 40, 0}, 206, h({{"content-range", "bytes 40-99/100"}}), StatusCode::kOk, 0, 60, 100},
      {{Kind::kFrom, 40, 0}, 200, h({{"content-length", "100"}}), StatusCode::kOk, 40, 60, 100},
      {{Kind::kFrom, 100, 0}, 416, h({{"content-range", "bytes */100"}}), StatusCode::kOk, 0, 0, 100},
      {{Kind::kFrom, 101, 0}, 416, h({{"content-range", "bytes */100"}}), StatusCode::kOutOfRange, 0, {}, {}},
      // A body (206, or 200 with Content-Range) that does not reach the offset asked for: past
      // the end when the value is shorter (found by the s3_response fuzzer: the window's length
      // underflowed), a wrong answer otherwise; empty when the offset is exactly the end.
      {{Kind::kFrom, 2000, 0}, 200, h({{"content-range", "bytes 0-0/1"}}), StatusCode::kOutOfRange, 0, {}, {}},
      {{Kind::kFrom, 2000, 0}, 206, h({{"content-range", "bytes 0-99/100"}}), StatusCode::kOutOfRange, 0, {}, {}},
      {{Kind::kFrom, 50, 0}, 206, h({{"content-range", "bytes 0-9/*"}}), StatusCode::kIOError, 0, {}, {}},
      {{Kind::kFrom, 100, 0}, 206, h({{"content-range", "bytes 90-99/100"}}), StatusCode::kOk, 10, 0, 100},
      // Whole values.
      {{Kind::kWhole}, 200, h({{"content-length", "7"}}), StatusCode::kOk, 0, 7, 7},
      {{Kind::kWhole}, 200, h({}), StatusCode::kOk, 0, std::nullopt, std::nullopt},
      // 416 past the end; nonsense is retryable.
      {{Kind::kRange, 200, 5}, 416, h({{"content-range", "bytes */100"}}), StatusCode::kOutOfRange, 0, {}, {}},
      {{Kind::kRange, 10, 20}, 206, h({{"content-range", "bytes 30-49/100"}}), StatusCode::kIOError, 0, {}, {}},
      {{Kind::kRange, 10, 20}, 206, h({{"content-range", "garbage"}}), StatusCode::kIOError, 0, {}, {}},
      {{Kind::kRange, 10, 20}, 206, h({}), StatusCode::kIOError, 0, {}, {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.range.ToString() + " answered " + std::to_string(c.status));
    internal::WindowResult r = ResolveBodyWindow(c.range, c.status, c.headers);
    EXPECT_EQ(r.status.code(), c.code) << r.status.ToString();
    if (c.code == StatusCode::kIOError) {
      EXPECT_TRUE(r.retry);
    }
    if (c.code != StatusCode::kOk) continue;
    EXPECT_EQ(r.window.skip, c.skip);
    EXPECT_EQ(r.window.length, c.length);
    EXPECT_EQ(r.window.object_size, c.size);
  }
  // A 416 to "from an offset to the end" that does not say the size (rclone's; AWS puts it in
  // the XML body only): empty at exactly the end or past it, so the caller asks for the size.
  internal::WindowResult w = ResolveBodyWindow({Kind::kFrom, 100, 0}, 416, h({}));
  EXPECT_TRUE(w.status.ok()) << w.status.ToString();
  EXPECT_TRUE(w.needs_size);
  EXPECT_EQ(w.window.length, std::optional<uint64_t>(0));
  // Not for a 416 that says the size, nor for a plain range (past the end either way).
  EXPECT_FALSE(
      ResolveBodyWindow({Kind::kFrom, 100, 0}, 416, h({{"content-range", "bytes */100"}}))
          .needs_size);
  w = ResolveBodyWindow({Kind::kRange, 100, 5}, 416, h({}));
  EXPECT_EQ(w.status.code(), StatusCode::kOutOfRange);
  EXPECT_FALSE(w.needs_size);

  EXPECT_EQ(FetchRange({Kind::kRange, 10, 20}).RangeHeader(), "bytes=10-29");
  EXPECT_EQ(FetchRange({Kind::kSuffix, 0, 16}).RangeHeader(), "bytes=-16");
  EXPECT_EQ(FetchRange({Kind::kFrom, 5, 0}).RangeHeader(), "bytes=5-");
  EXPECT_EQ(FetchRange({Kind::kWhole}).RangeHeader(), "");
}

TEST(ObjectStoreOptions, ParsedAndChecked) {
  std::map<std::string, std::string> opts = {{"retry_timeout", "2.5"}, {"requests", "16"},
                                             {"hedge", "false"}, {"part_size", "6291456"},
                                             {"anon", "true"}};
  auto o = TakeObjectStoreOptions(opts);
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_DOUBLE_EQ(o->retry_timeout, 2.5);
  EXPECT_EQ(o->requests, 16);
  EXPECT_FALSE(o->hedge);
  EXPECT_EQ(o->part_size, 6291456u);
  EXPECT_EQ(opts.size(), 1u) << "names it does not know are left";
  std::map<std::string, std::string> bad = {{"retry_timeout", "soon"}};
  EXPECT_EQ(TakeObjectStoreOptions(bad).status().code(), StatusCode::kInvalidArgument);
  std::map<std::string, std::string> small = {{"part_size", "1000"}};
  EXPECT_FALSE(TakeObjectStoreOptions(small).ok());
}

// ---------------------------------------------------------------------------------------------
// Servers.

class Servers : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rclone_ = testing::StartRclone({"data", "other"}).release();
    nginx_ = testing::StartNginx().release();
    moto_ = testing::StartMoto({"mbucket"}).release();
  }
  static void TearDownTestSuite() {
    delete rclone_;
    delete nginx_;
    delete moto_;
  }
  void SetUp() override {
    ASSERT_NE(rclone_, nullptr) << "rclone serve s3 did not start";
    ASSERT_NE(nginx_, nullptr) << "nginx did not start";
    ASSERT_NE(moto_, nullptr) << "moto did not start";
    prefix_ = std::string("t-") + ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }

  static Result<std::shared_ptr<Store>> S3(const testing::Server& server, std::string url,
                                           std::map<std::string, std::string> extra = {}) {
    OpenOptions o;
    o.storage_options = {{"endpoint_url", server.endpoint()},
                         {"key", kTestKey},
                         {"secret", kTestSecret},
                         {"region", "us-east-1"}};
    for (auto& [k, v] : extra) o.storage_options[k] = v;
    return OpenS3Store(url, o);
  }
  fs::path RcloneFile(const std::string& bucket, const std::string& key) const {
    return rclone_->dir->path() / "data" / bucket / key;
  }

  static testing::Server* rclone_;
  static testing::Server* nginx_;
  static testing::Server* moto_;
  std::string prefix_;
};

testing::Server* Servers::rclone_ = nullptr;
testing::Server* Servers::nginx_ = nullptr;
testing::Server* Servers::moto_ = nullptr;

// Keys that need encoding, written through SigV4-checked requests, land as the same names on
// disk, and read back; files put on disk read through the store.
TEST_F(Servers, RcloneSignedRoundTripMatchesDisk) {
  auto store = S3(*rclone_, "s3://data/" + prefix_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  const std::vector<std::string> keys = {"plain", "with space", "eq=1,2", "plus+sign",
                                         "per%25cent", "uni\xc3\xa9\xe6\x97\xa5", "deep/a/b/c",
                                         "q?x#y", "paren(1)!*'~"};
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string value = Pattern(1000 + i, static_cast<uint32_t>(i));
    Status s = (*store)->Write(keys[i], Bytes(value));
    ASSERT_TRUE(s.ok()) << keys[i] << ": " << s.ToString();
    EXPECT_EQ(ReadFile(RcloneFile("data", prefix_ + "/" + keys[i])), value) << keys[i];
  }
  const std::string seeded = Pattern(300000, 99);
  WriteFile(RcloneFile("data", prefix_ + "/seeded/x=1 y"), seeded);
  testing::RcloneSeedDelay();
  auto v = (*store)->Read("seeded/x=1 y");
  ASSERT_TRUE(v.ok() && v->has_value()) << v.status().ToString();
  EXPECT_EQ(AsString(**v), seeded);
  auto r = (*store)->Read("seeded/x=1 y", ByteRange::Range(1234, 5678));
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ(AsString(**r), seeded.substr(1234, 5678));
  auto sz = (*store)->Size("seeded/x=1 y");
  ASSERT_TRUE(sz.ok() && sz->has_value());
  EXPECT_EQ(**sz, seeded.size());
  auto listed = (*store)->List("", ListMode::kRecursive);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  std::set<std::string> names;
  for (const ListEntry& e : *listed) names.insert(e.key);
  std::set<std::string> want(keys.begin(), keys.end());
  want.insert("seeded/x=1 y");
  EXPECT_EQ(names, want);
}

TEST_F(Servers, WrongSecretIsPermissionDeniedAtOnceAndNamesNoSecret) {
  auto store = S3(*rclone_, "s3://data/" + prefix_, {{"secret", "not-the-s3cr3t-value"}});
  ASSERT_TRUE(store.ok());
  const auto t0 = std::chrono::steady_clock::now();
  auto v = (*store)->Read("k");
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kPermissionDenied) << v.status().ToString();
  EXPECT_NE(v.status().message().find("s3://data/" + prefix_ + "/k"), std::string::npos)
      << v.status().message();
  EXPECT_EQ(v.status().message().find("not-the-s3cr3t-value"), std::string::npos);
  EXPECT_EQ(v.status().message().find(kTestKey), std::string::npos) << v.status().message();
  EXPECT_LT(took, 5.0) << "a 403 must not be retried";
}

TEST_F(Servers, MissingBucketIsAnErrorNotAMissingKey) {
  auto store = S3(*moto_, "s3://no-such-bucket/x.zarr");
  ASSERT_TRUE(store.ok());
  auto v = (*store)->Read("zarr.json");
  ASSERT_FALSE(v.ok()) << "a missing bucket must not read as a missing key";
  EXPECT_NE(v.status().message().find("no-such-bucket"), std::string::npos) << v.status().message();
  EXPECT_NE(v.status().code(), StatusCode::kNotFound);
}

TEST_F(Servers, MotoListsInPagesAndDeletesInBatches) {
  auto store = S3(*moto_, "s3://mbucket/" + prefix_, {{"list_page_size", "2"}});
  ASSERT_TRUE(store.ok());
  std::vector<KeyValue> batch;
  std::set<std::string> want;
  for (int i = 0; i < 11; ++i) {
    const std::string key = "c/" + std::to_string(i) + (i % 3 == 0 ? "/deep" : "");
    batch.push_back({key, Buffer::CopyOf(Pattern(10 + i, i))});
    want.insert(key);
  }
  ASSERT_TRUE((*store)->WriteBatch(std::move(batch)).ok());
  auto all = (*store)->List("c", ListMode::kRecursive);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  std::set<std::string> got;
  for (const ListEntry& e : *all) got.insert("c/" + e.key);
  EXPECT_EQ(got, want);
  auto children = (*store)->List("c", ListMode::kChildren);
  ASSERT_TRUE(children.ok());
  size_t prefixes = 0, values = 0;
  for (const ListEntry& e : *children) (e.is_prefix ? prefixes : values)++;
  EXPECT_EQ(prefixes, 4u);  // 0, 3, 6, 9 hold "deep"
  EXPECT_EQ(values, 7u);
  ASSERT_TRUE((*store)->DeletePrefix("c").ok());
  auto none = (*store)->List("", ListMode::kRecursive);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(Servers, MultipartUploadsOnBothServers) {
  const std::string big = Pattern((13 << 20) + 12345, 5);
  for (testing::Server* server : {moto_, rclone_}) {
    const std::string bucket = server == moto_ ? "mbucket" : "data";
    auto store = S3(*server, "s3://" + bucket + "/" + prefix_,
                    {{"multipart_threshold", std::to_string(6 << 20)},
                     {"part_size", std::to_string(5 << 20)}});
    ASSERT_TRUE(store.ok());
    Status s = (*store)->Write("big", Bytes(big));
    ASSERT_TRUE(s.ok()) << s.ToString();
    auto v = (*store)->Read("big");
    ASSERT_TRUE(v.ok() && v->has_value()) << v.status().ToString();
    EXPECT_TRUE(AsString(**v) == big);
    if (server == rclone_) {
      EXPECT_TRUE(ReadFile(RcloneFile("data", prefix_ + "/big")) == big);
    }
    ASSERT_TRUE((*store)->DeletePrefix("").ok());
  }
}

TEST_F(Servers, NginxRangesSuffixesAndNoListing) {
  const fs::path www = nginx_->dir->path() / "www";
  const std::string value = Pattern(250000, 3);
  WriteFile(www / prefix_ / "a b=c" / "v", value);
  auto store = OpenHttpStore(nginx_->endpoint() + "/" + prefix_, {});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto whole = (*store)->Read("a b=c/v");
  ASSERT_TRUE(whole.ok() && whole->has_value()) << whole.status().ToString();
  EXPECT_TRUE(AsString(**whole) == value);
  auto suffix = (*store)->Read("a b=c/v", ByteRange::Suffix(100));
  ASSERT_TRUE(suffix.ok() && suffix->has_value());
  EXPECT_EQ(AsString(**suffix), value.substr(value.size() - 100));
  auto past = (*store)->Read("a b=c/v", ByteRange::Range(249990, 20));
  EXPECT_EQ(past.status().code(), StatusCode::kOutOfRange) << past.status().ToString();
  auto missing = (*store)->Read("nope");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  auto list = (*store)->List("", ListMode::kChildren);
  EXPECT_EQ(list.status().code(), StatusCode::kNotSupported);
  EXPECT_NE(list.status().message().find("no listing"), std::string::npos);
  EXPECT_EQ((*store)->Write("x", Bytes("y")).code(), StatusCode::kNotSupported);
}

// A Reader through the fault proxy: every answer exact, whatever is injected.
void ReadManyExactly(Store& store, const std::map<std::string, std::string>& values,
                     int rounds, std::string* failure) {
  auto reader = store.MakeReader({uint64_t{16} << 20});
  if (!reader.ok()) {
    *failure = reader.status().ToString();
    return;
  }
  std::mt19937 rng(11);
  for (int round = 0; round < rounds; ++round) {
    std::vector<ReadRequest> group;
    std::vector<std::pair<std::string, std::pair<uint64_t, uint64_t>>> want;
    uint64_t tag = 0;
    for (const auto& [key, value] : values) {
      ReadRequest r;
      r.key = key;
      r.tag = tag++;
      const uint64_t off = rng() % value.size();
      const uint64_t len = rng() % (value.size() - off) + 1;
      if (tag % 3 == 0) {
        r.range = ByteRange::Whole();
        want.push_back({key, {0, value.size()}});
      } else if (tag % 3 == 1) {
        r.range = ByteRange::Range(off, len);
        want.push_back({key, {off, len}});
      } else {
        r.range = ByteRange::Suffix(len);
        want.push_back({key, {value.size() - len, len}});
      }
      group.push_back(std::move(r));
    }
    if (!(*reader)->Submit(std::move(group)).ok()) {
      *failure = "submit failed";
      return;
    }
    Completion c;
    size_t n = 0;
    while ((*reader)->Next(&c)) {
      if (c.kind == Completion::Kind::kEndOfGroup) break;
      ++n;
      if (!c.status.ok()) {
        *failure = c.status.ToString();
        return;
      }
      const auto& [key, span] = want[c.tag];
      if (AsString(c.data) != values.at(key).substr(span.first, span.second)) {
        *failure = "wrong bytes for " + key;
        return;
      }
      c = Completion();
    }
    if (n != want.size()) {
      *failure = "missing completions";
      return;
    }
  }
}

TEST_F(Servers, AnswersStayExactThroughFaults) {
  std::map<std::string, std::string> values;
  for (int i = 0; i < 24; ++i) {
    const std::string key = "f/" + std::to_string(i);
    values[key] = Pattern(20000 + 9000 * i, i);
    WriteFile(RcloneFile("data", prefix_ + "/" + key), values[key]);
    WriteFile(nginx_->dir->path() / "www" / prefix_ / key, values[key]);
  }
  testing::RcloneSeedDelay();
  struct Scenario {
    std::string name;
    std::vector<std::string> args;
    bool s3;
  };
  const std::vector<Scenario> scenarios = {
      {"errors and resets", {"--rate", "0.3", "--kinds", "503,500,429,reset,truncate"}, true},
      {"stalls", {"--rate", "0.1", "--kinds", "stall", "--stall-s", "30"}, true},
      {"range ignored", {"--ignore-range", "--rate", "0.2", "--kinds", "503,truncate"}, false},
      {"206 as 200", {"--range-as-200", "--rate", "0.2", "--kinds", "reset"}, false},
  };
  for (const Scenario& sc : scenarios) {
    SCOPED_TRACE(sc.name);
    auto proxy = testing::StartFaultProxy(sc.s3 ? rclone_->port : nginx_->port, sc.args);
    ASSERT_NE(proxy, nullptr);
    std::map<std::string, std::string> extra = {{"stall_timeout", "2"}, {"retry_timeout", "60"}};
    Result<std::shared_ptr<Store>> store =
        sc.s3 ? S3(*proxy, "s3://data/" + prefix_, extra) : [&] {
          OpenOptions o;
          o.storage_options = extra;
          return OpenHttpStore(proxy->endpoint() + "/" + prefix_, o);
        }();
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    const auto t0 = std::chrono::steady_clock::now();
    std::string failure;
    ReadManyExactly(**store, values, 4, &failure);
    EXPECT_EQ(failure, "");
    const double took =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LT(took, 60) << "stalls must be cut short (stall timeout, hedging)";
    // Synchronous reads too.
    for (const auto& [key, value] : values) {
      auto v = (*store)->Read(key, ByteRange::Range(5, 1000));
      ASSERT_TRUE(v.ok() && v->has_value()) << key << ": " << v.status().ToString();
      EXPECT_EQ(AsString(**v), value.substr(5, 1000));
    }
  }
}

TEST_F(Servers, RetriesEndAfterTheRetryTimeoutNamingKeyAndCause) {
  auto proxy = testing::StartFaultProxy(rclone_->port, {"--rate", "1", "--kinds", "503"});
  ASSERT_NE(proxy, nullptr);
  auto store = S3(*proxy, "s3://data/" + prefix_, {{"retry_timeout", "2"}});
  ASSERT_TRUE(store.ok());
  const auto t0 = std::chrono::steady_clock::now();
  auto v = (*store)->Read("some/chunk/0.0");
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_FALSE(v.ok());
  const std::string msg = v.status().message();
  EXPECT_NE(msg.find("some/chunk/0.0"), std::string::npos) << msg;
  EXPECT_NE(msg.find("503"), std::string::npos) << msg;
  EXPECT_NE(msg.find("SlowDown"), std::string::npos) << msg;
  EXPECT_NE(msg.find("gave up after"), std::string::npos) << msg;
  EXPECT_GE(took, 1.9) << "gave up before the retry timeout";
  EXPECT_LT(took, 15.0);
}

TEST_F(Servers, StragglersAreHedged) {
  // The first requests for three of the keys are delayed 20 s (their re-issues are not). With
  // hedging (and the stall timeout out of the way) a round of reads takes far less than that.
  std::map<std::string, std::string> values;
  for (int i = 0; i < 60; ++i) {
    const std::string key = "h/" + std::to_string(i);
    values[key] = Pattern(5000, i);
    WriteFile(nginx_->dir->path() / "www" / prefix_ / key, values[key]);
  }
  auto proxy = testing::StartFaultProxy(
      nginx_->port, {"--delay-ms", "20000", "--delay-first", "/h/7", "--delay-first", "/h/23",
                     "--delay-first", "/h/42"});
  ASSERT_NE(proxy, nullptr);
  OpenOptions o;
  o.storage_options = {{"stall_timeout", "60"}, {"hedge_min_delay", "0.2"}};
  auto store = OpenHttpStore(proxy->endpoint() + "/" + prefix_, o);
  ASSERT_TRUE(store.ok());
  const auto t0 = std::chrono::steady_clock::now();
  std::string failure;
  ReadManyExactly(**store, values, 1, &failure);
  EXPECT_EQ(failure, "");
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto stats = (*OpenHttpStore(proxy->endpoint(), {}))->Read("__proxy_stats");
  ASSERT_TRUE(stats.ok() && stats->has_value());
  const std::string counts = AsString(**stats);
  ASSERT_NE(counts.find("\"delay\""), std::string::npos)
      << "the proxy delayed nothing (" << counts << "): the test proves nothing";
  EXPECT_LT(took, 15.0) << "stragglers were waited for instead of hedged; proxy: " << counts;
}

}  // namespace
}  // namespace lsio::kvstore
