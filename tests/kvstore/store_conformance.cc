#include "store_conformance.h"

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "lsio/kvstore/byte_range.h"
#include "lsio/kvstore/key.h"

namespace lsio::kvstore::testing {

namespace {

std::string AsString(const Buffer& b) { return std::string(b.as_string_view()); }

std::span<const std::byte> Bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

std::string Pattern(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  std::mt19937 rng(seed);
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// Submits one group and collects its completions by tag, checking the end-of-group marker.
std::map<uint64_t, Completion> ReadGroup(Reader& reader, std::vector<ReadRequest> group) {
  const size_t n = group.size();
  Result<uint64_t> id = reader.Submit(std::move(group));
  EXPECT_TRUE(id.ok()) << id.status().ToString();
  std::map<uint64_t, Completion> out;
  Completion c;
  while (reader.Next(&c)) {
    EXPECT_EQ(c.group, *id);
    if (c.kind == Completion::Kind::kEndOfGroup) break;
    EXPECT_TRUE(out.emplace(c.tag, std::move(c)).second) << "tag delivered twice";
    c = Completion();
  }
  EXPECT_EQ(out.size(), n);
  return out;
}

ReadRequest Request(std::string key, ByteRange range, uint64_t tag) {
  ReadRequest r;
  r.key = std::move(key);
  r.range = range;
  r.tag = tag;
  return r;
}

}  // namespace

void StoreConformanceTest::SetUp() {
  store_ = GetParam().make();
  ASSERT_NE(store_, nullptr);
}

void StoreConformanceTest::TearDown() {
  if (store_ && GetParam().can_write) {
    EXPECT_TRUE(store_->DeletePrefix("").ok());
  }
}

void StoreConformanceTest::Put(const std::string& key, const std::string& value) {
  if (GetParam().can_write) {
    ASSERT_TRUE(store_->Write(key, Bytes(value)).ok()) << key;
  } else {
    ASSERT_TRUE(GetParam().seed) << "a read-only store needs a seed function";
    GetParam().seed(key, value);
  }
}

TEST_P(StoreConformanceTest, ReadWholeRangeAndSuffix) {
  const std::string value = Pattern(100000, 1);
  Put("a/b/value", value);
  Result<std::optional<Buffer>> whole = store_->Read("a/b/value");
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  ASSERT_TRUE(whole->has_value());
  EXPECT_EQ(AsString(**whole), value);

  Result<std::optional<Buffer>> range = store_->Read("a/b/value", ByteRange::Range(1000, 5000));
  ASSERT_TRUE(range.ok()) << range.status().ToString();
  EXPECT_EQ(AsString(**range), value.substr(1000, 5000));

  Result<std::optional<Buffer>> suffix = store_->Read("a/b/value", ByteRange::Suffix(16));
  ASSERT_TRUE(suffix.ok()) << suffix.status().ToString();
  EXPECT_EQ(AsString(**suffix), value.substr(value.size() - 16));

  Result<std::optional<Buffer>> tail = store_->Read("a/b/value", ByteRange{99990, -1});
  ASSERT_TRUE(tail.ok()) << tail.status().ToString();
  EXPECT_EQ(AsString(**tail), value.substr(99990));

  Result<std::optional<Buffer>> empty = store_->Read("a/b/value", ByteRange::Range(100000, 0));
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ((*empty)->size(), 0u);
}

TEST_P(StoreConformanceTest, MissingKeysAndBadRanges) {
  Put("x", "hello");
  Result<std::optional<Buffer>> missing = store_->Read("nothing/here");
  ASSERT_TRUE(missing.ok()) << missing.status().ToString();
  EXPECT_FALSE(missing->has_value());
  Result<std::optional<uint64_t>> size = store_->Size("nothing/here");
  ASSERT_TRUE(size.ok());
  EXPECT_FALSE(size->has_value());

  Result<std::optional<Buffer>> past = store_->Read("x", ByteRange::Range(3, 10));
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.status().code(), StatusCode::kOutOfRange) << past.status().ToString();
  Result<std::optional<Buffer>> big_suffix = store_->Read("x", ByteRange::Suffix(6));
  ASSERT_FALSE(big_suffix.ok());
  EXPECT_EQ(big_suffix.status().code(), StatusCode::kOutOfRange);
  Result<std::optional<Buffer>> limited = store_->Read("x", ByteRange::Whole(), 4);
  ASSERT_FALSE(limited.ok());
  EXPECT_EQ(limited.status().code(), StatusCode::kResourceExhausted);

  for (const char* bad : {"../x", "/x", "a//b", "a/./b", "a/../b"}) {
    Result<std::optional<Buffer>> r = store_->Read(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST_P(StoreConformanceTest, SizesAndUnusualKeys) {
  // Keys object storage must encode: '=', spaces, '+', '%', unicode, many levels.
  const std::vector<std::string> keys = {"plain", "with space", "eq=1,2", "plus+sign",
                                         "per%25cent", "uni\xc3\xa9\xe6\x97\xa5", "deep/a/b/c/d/e",
                                         "c/0/0", "c.0.0", "zarr.json"};
  for (size_t i = 0; i < keys.size(); ++i) Put(keys[i], Pattern(i * 7 + 1, i));
  for (size_t i = 0; i < keys.size(); ++i) {
    Result<std::optional<uint64_t>> size = store_->Size(keys[i]);
    ASSERT_TRUE(size.ok()) << keys[i] << ": " << size.status().ToString();
    ASSERT_TRUE(size->has_value()) << keys[i];
    EXPECT_EQ(**size, i * 7 + 1) << keys[i];
    Result<std::optional<Buffer>> v = store_->Read(keys[i]);
    ASSERT_TRUE(v.ok() && v->has_value()) << keys[i];
    EXPECT_EQ(AsString(**v), Pattern(i * 7 + 1, i)) << keys[i];
  }
}

TEST_P(StoreConformanceTest, Listing) {
  if (!GetParam().can_list) GTEST_SKIP() << "this store has no listing";
  Put("g/zarr.json", "{}");
  Put("g/a/zarr.json", "{}");
  Put("g/a/c/0/0", "0123456789");
  Put("g/a/c/0/1", "01234");
  Put("g/b/zarr.json", "{}");
  Put("g2/x", "x");
  Result<std::vector<ListEntry>> children = store_->List("g", ListMode::kChildren);
  ASSERT_TRUE(children.ok()) << children.status().ToString();
  std::vector<std::pair<std::string, bool>> got;
  for (const ListEntry& e : *children) got.emplace_back(e.key, e.is_prefix);
  EXPECT_EQ(got, (std::vector<std::pair<std::string, bool>>{
                     {"a", true}, {"b", true}, {"zarr.json", false}}));

  Result<std::vector<ListEntry>> all = store_->List("g/a", ListMode::kRecursive);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  std::vector<std::pair<std::string, uint64_t>> files;
  for (const ListEntry& e : *all) {
    EXPECT_FALSE(e.is_prefix);
    files.emplace_back(e.key, e.size);
  }
  EXPECT_EQ(files, (std::vector<std::pair<std::string, uint64_t>>{
                       {"c/0/0", 10}, {"c/0/1", 5}, {"zarr.json", 2}}));

  Result<std::vector<ListEntry>> root = store_->List("", ListMode::kChildren);
  ASSERT_TRUE(root.ok());
  std::set<std::string> names;
  for (const ListEntry& e : *root) names.insert(e.key);
  EXPECT_EQ(names, (std::set<std::string>{"g", "g2"}));

  Result<std::vector<ListEntry>> none = store_->List("nope", ListMode::kRecursive);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());

  const std::vector<std::string> skip = {"zarr.json"};
  Result<PrefixUsage> usage = Usage(*store_, "g", skip);
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(usage->keys, 2u);
  EXPECT_EQ(usage->bytes, 15u);
}

TEST_P(StoreConformanceTest, WriteReplaceDelete) {
  if (!GetParam().can_write) GTEST_SKIP() << "read-only store";
  ASSERT_TRUE(store_->Write("k/v", Bytes("first")).ok());
  ASSERT_TRUE(store_->Write("k/v", Bytes("second value")).ok());
  Result<std::optional<Buffer>> v = store_->Read("k/v");
  ASSERT_TRUE(v.ok() && v->has_value());
  EXPECT_EQ(AsString(**v), "second value");
  ASSERT_TRUE(store_->Write("k/empty", {}).ok());
  Result<std::optional<uint64_t>> size = store_->Size("k/empty");
  ASSERT_TRUE(size.ok() && size->has_value());
  EXPECT_EQ(**size, 0u);

  ASSERT_TRUE(store_->Delete("k/v").ok());
  ASSERT_TRUE(store_->Delete("k/v").ok()) << "deleting a missing key is fine";
  v = store_->Read("k/v");
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->has_value());

  std::vector<KeyValue> batch;
  for (int i = 0; i < 20; ++i) {
    batch.push_back({"batch/" + std::to_string(i), Buffer::CopyOf(Pattern(1000 + i, i))});
  }
  ASSERT_TRUE(store_->WriteBatch(std::move(batch)).ok());
  for (int i = 0; i < 20; ++i) {
    Result<std::optional<Buffer>> b = store_->Read("batch/" + std::to_string(i));
    ASSERT_TRUE(b.ok() && b->has_value());
    EXPECT_EQ(AsString(**b), Pattern(1000 + i, i));
  }
  ASSERT_TRUE(store_->DeletePrefix("batch").ok());
  Result<std::optional<Buffer>> gone = store_->Read("batch/3");
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
  Result<std::optional<Buffer>> kept = store_->Read("k/empty");
  ASSERT_TRUE(kept.ok());
  EXPECT_TRUE(kept->has_value()) << "DeletePrefix(batch) must not touch other keys";
}

TEST_P(StoreConformanceTest, PublicationIsAtomic) {
  if (!GetParam().can_write) GTEST_SKIP() << "read-only store";
  {
    Result<std::unique_ptr<Publication>> p = store_->BeginPublish("out", {});
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    ASSERT_TRUE((*p)->Write("zarr.json", Bytes("{\"a\":1}")).ok());
    ASSERT_TRUE((*p)->Write("x/c/0", Bytes("chunk")).ok());
    // Nothing is visible before Commit.
    Result<std::optional<Buffer>> early = store_->Read("out/zarr.json");
    ASSERT_TRUE(early.ok());
    EXPECT_FALSE(early->has_value());
    ASSERT_TRUE((*p)->Commit().ok());
  }
  Result<std::optional<Buffer>> v = store_->Read("out/x/c/0");
  ASSERT_TRUE(v.ok() && v->has_value());
  EXPECT_EQ(AsString(**v), "chunk");

  // An abandoned publication leaves nothing behind.
  {
    Result<std::unique_ptr<Publication>> p = store_->BeginPublish("abandoned", {});
    ASSERT_TRUE(p.ok());
    ASSERT_TRUE((*p)->Write("zarr.json", Bytes("{}")).ok());
  }
  if (GetParam().can_list) {
    Result<std::vector<ListEntry>> root = store_->List("", ListMode::kChildren);
    ASSERT_TRUE(root.ok());
    for (const ListEntry& e : *root) EXPECT_NE(e.key, "abandoned");
  }
  Result<std::optional<Buffer>> abandoned = store_->Read("abandoned/zarr.json");
  ASSERT_TRUE(abandoned.ok());
  EXPECT_FALSE(abandoned->has_value());

  // Publishing over something that exists fails unless asked to replace.
  Result<std::unique_ptr<Publication>> again = store_->BeginPublish("out", {});
  if (again.ok()) {
    ASSERT_TRUE((*again)->Write("zarr.json", Bytes("{}")).ok());
    EXPECT_FALSE((*again)->Commit().ok());
  }
  v = store_->Read("out/x/c/0");
  ASSERT_TRUE(v.ok() && v->has_value()) << "a refused publication must not remove the old one";

  PublishOptions replace;
  replace.replace = true;
  Result<std::unique_ptr<Publication>> r = store_->BeginPublish("out", replace);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE((*r)->Write("zarr.json", Bytes("{\"b\":2}")).ok());
  ASSERT_TRUE((*r)->Commit().ok());
  Result<std::optional<Buffer>> meta = store_->Read("out/zarr.json");
  ASSERT_TRUE(meta.ok() && meta->has_value());
  EXPECT_EQ(AsString(**meta), "{\"b\":2}");
  Result<std::optional<Buffer>> old = store_->Read("out/x/c/0");
  ASSERT_TRUE(old.ok());
  EXPECT_FALSE(old->has_value()) << "replace removes the old content";
}

TEST_P(StoreConformanceTest, ReaderGroupsInOrder) {
  const int kKeys = 40;
  for (int i = 0; i < kKeys; ++i) Put("r/" + std::to_string(i), Pattern(5000 + 37 * i, i));
  ReaderOptions options;
  options.max_bytes_in_flight = 1 << 20;
  Result<std::unique_ptr<Reader>> reader = store_->MakeReader(options);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();

  // Three groups submitted at once: every completion of group n comes before any of n+1.
  std::vector<uint64_t> ids;
  for (int g = 0; g < 3; ++g) {
    std::vector<ReadRequest> group;
    for (int i = g; i < kKeys; i += 3) {
      const uint64_t tag = static_cast<uint64_t>(g * 1000 + i);
      if (i % 2 == 0) {
        group.push_back(Request("r/" + std::to_string(i), ByteRange::Whole(), tag));
      } else {
        group.push_back(Request("r/" + std::to_string(i), ByteRange::Range(100, 1000), tag));
      }
    }
    group.push_back(Request("r/missing", ByteRange::Whole(), static_cast<uint64_t>(g * 1000 + 999)));
    Result<uint64_t> id = (*reader)->Submit(std::move(group));
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    ids.push_back(*id);
  }
  EXPECT_EQ(ids, (std::vector<uint64_t>{0, 1, 2}));
  size_t group = 0;
  int seen_in_group = 0;
  Completion c;
  while (group < 3 && (*reader)->Next(&c)) {
    ASSERT_EQ(c.group, ids[group]);
    if (c.kind == Completion::Kind::kEndOfGroup) {
      const int g = static_cast<int>(group);
      EXPECT_EQ(seen_in_group, (kKeys - g + 2) / 3 + 1);
      ++group;
      seen_in_group = 0;
      continue;
    }
    ++seen_in_group;
    const int i = static_cast<int>(c.tag % 1000);
    if (i == 999) {
      EXPECT_EQ(c.status.code(), StatusCode::kNotFound) << c.status.ToString();
      EXPECT_NE(c.status.message().find("r/missing"), std::string::npos) << c.status.message();
    } else {
      ASSERT_TRUE(c.status.ok()) << c.status.ToString();
      const std::string want = Pattern(5000 + 37 * i, i);
      EXPECT_EQ(AsString(c.data), i % 2 == 0 ? want : want.substr(100, 1000)) << i;
    }
    c = Completion();
  }
  EXPECT_EQ(group, 3u);
  EXPECT_FALSE((*reader)->NextFor(&c, 0)) << "nothing left to deliver";
}

TEST_P(StoreConformanceTest, ReaderRangesAndErrors) {
  const std::string value = Pattern(200000, 7);
  Put("v", value);
  Result<std::unique_ptr<Reader>> reader = store_->MakeReader({});
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  std::vector<ReadRequest> group;
  group.push_back(Request("v", ByteRange::Suffix(24), 0));
  group.push_back(Request("v", ByteRange::Range(0, 24), 1));
  group.push_back(Request("v", ByteRange::Range(199990, 20), 2));  // past the end
  group.push_back(Request("v", ByteRange{-300000, -1}, 3));         // suffix longer than value
  ReadRequest limited = Request("v", ByteRange::Whole(), 4);
  limited.max_length = 1000;
  group.push_back(limited);
  ReadRequest sized = Request("v", ByteRange::Range(10, 10), 5);
  sized.value_size = 200001;
  group.push_back(sized);
  ReadRequest right_size = Request("v", ByteRange::Range(10, 10), 6);
  right_size.value_size = 200000;
  group.push_back(right_size);
  // Neighbouring ranges of one key (coalesced by stores that can).
  for (uint64_t i = 0; i < 50; ++i) {
    group.push_back(Request("v", ByteRange::Range(1000 + i * 3000, 2000), 100 + i));
  }
  std::map<uint64_t, Completion> got = ReadGroup(**reader, std::move(group));
  ASSERT_EQ(got.size(), 57u);
  EXPECT_EQ(AsString(got[0].data), value.substr(value.size() - 24));
  EXPECT_EQ(AsString(got[1].data), value.substr(0, 24));
  EXPECT_EQ(got[2].status.code(), StatusCode::kOutOfRange) << got[2].status.ToString();
  EXPECT_EQ(got[3].status.code(), StatusCode::kOutOfRange) << got[3].status.ToString();
  EXPECT_EQ(got[4].status.code(), StatusCode::kOutOfRange) << got[4].status.ToString();
  EXPECT_EQ(got[5].status.code(), StatusCode::kOutOfRange) << got[5].status.ToString();
  ASSERT_TRUE(got[6].status.ok()) << got[6].status.ToString();
  EXPECT_EQ(AsString(got[6].data), value.substr(10, 10));
  for (uint64_t i = 0; i < 50; ++i) {
    ASSERT_TRUE(got[100 + i].status.ok()) << got[100 + i].status.ToString();
    EXPECT_EQ(AsString(got[100 + i].data), value.substr(1000 + i * 3000, 2000)) << i;
  }
}

// Reads at and past the end of a value, the same through Read, a Reader and ReadNow: from
// exactly the end (to the end, or zero bytes) is empty; anything starting or reaching past it is
// kOutOfRange naming the key and the range. (S3 servers answer "from the end" with a 416 that
// need not carry the size.)
TEST_P(StoreConformanceTest, ReadsAtAndPastTheEnd) {
  const std::string value = Pattern(5000, 11);
  Put("end/v", value);
  Put("end/empty", "");
  struct Case {
    std::string key;
    ByteRange range;
    bool ok;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"end/v", ByteRange{5000, ByteRange::kToEnd}, true, ""},
      {"end/v", ByteRange::Range(5000, 0), true, ""},
      {"end/v", ByteRange::Range(4999, 1), true, value.substr(4999)},
      {"end/v", ByteRange{4999, ByteRange::kToEnd}, true, value.substr(4999)},
      {"end/v", ByteRange::Suffix(5000), true, value},
      {"end/v", ByteRange{5001, ByteRange::kToEnd}, false, ""},
      {"end/v", ByteRange{1 << 20, ByteRange::kToEnd}, false, ""},
      {"end/v", ByteRange::Range(5000, 1), false, ""},
      {"end/v", ByteRange::Range(5001, 0), false, ""},
      {"end/v", ByteRange::Suffix(5001), false, ""},
      {"end/empty", ByteRange::Whole(), true, ""},
      {"end/empty", ByteRange::Range(0, 0), true, ""},
      {"end/empty", ByteRange{1, ByteRange::kToEnd}, false, ""},
      {"end/empty", ByteRange::Range(0, 1), false, ""},
      {"end/empty", ByteRange::Suffix(1), false, ""},
  };
  std::vector<ReadRequest> group;
  for (size_t i = 0; i < cases.size(); ++i) group.push_back(Request(cases[i].key, cases[i].range, i));
  Result<std::unique_ptr<Reader>> reader = store_->MakeReader({});
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  std::map<uint64_t, Completion> got = ReadGroup(**reader, group);
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const std::string what = c.key + " " + c.range.ToString();
    Result<std::optional<Buffer>> read = store_->Read(c.key, c.range);
    Result<Buffer> now = store_->ReadNow(group[i]);
    const Status& completion = got[i].status;
    if (c.ok) {
      ASSERT_TRUE(read.ok()) << what << ": " << read.status().ToString();
      ASSERT_TRUE(read->has_value()) << what;
      EXPECT_EQ(AsString(**read), c.want) << what;
      ASSERT_TRUE(now.ok()) << what << ": " << now.status().ToString();
      EXPECT_EQ(AsString(*now), c.want) << what;
      ASSERT_TRUE(completion.ok()) << what << ": " << completion.ToString();
      EXPECT_EQ(AsString(got[i].data), c.want) << what;
      continue;
    }
    for (const Status& st : {read.status(), now.status(), completion}) {
      ASSERT_FALSE(st.ok()) << what;
      EXPECT_EQ(st.code(), StatusCode::kOutOfRange) << what << ": " << st.ToString();
      EXPECT_NE(st.message().find(c.key), std::string::npos) << what << ": " << st.ToString();
      // The range, in the store's notation ("bytes 5001-end", "bytes [5001, end)"): its start.
      const std::string start = std::to_string(c.range.offset < 0 ? -c.range.offset
                                                                  : c.range.offset);
      EXPECT_NE(st.message().find(start), std::string::npos) << what << ": " << st.ToString();
    }
  }
}

// ReadNow (one request on the calling thread) gives what a Reader's completion gives.
TEST_P(StoreConformanceTest, ReadNowAgreesWithTheReader) {
  std::string value(5000, '\0');
  for (size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>('a' + i % 23);
  Put("now/v", value);
  std::vector<ReadRequest> cases;
  cases.push_back(Request("now/v", ByteRange::Whole(), 0));
  cases.push_back(Request("now/v", ByteRange::Range(100, 50), 1));
  cases.push_back(Request("now/v", ByteRange::Suffix(24), 2));
  cases.push_back(Request("now/missing", ByteRange::Whole(), 3));
  cases.push_back(Request("now/v", ByteRange::Range(4990, 50), 4));  // past the end
  cases.push_back(Request("now/v", ByteRange::Range(0, 10), 5));
  cases.back().value_size = 4999;  // the value is not that long
  cases.push_back(Request("now/v", ByteRange::Range(0, 10), 6));
  cases.back().value_size = 5000;
  cases.push_back(Request("now/v", ByteRange::Whole(), 7));
  cases.back().max_length = 100;
  Result<std::unique_ptr<Reader>> reader = store_->MakeReader({});
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  std::map<uint64_t, Completion> want = ReadGroup(**reader, cases);
  for (const ReadRequest& r : cases) {
    Result<Buffer> got = store_->ReadNow(r);
    const Completion& c = want[r.tag];
    ASSERT_EQ(got.status().code(), c.status.code())
        << "case " << r.tag << ": " << got.status().ToString() << " vs " << c.status.ToString();
    if (got.ok()) {
      EXPECT_EQ(AsString(*got), AsString(c.data)) << "case " << r.tag;
    }
  }
}

TEST_P(StoreConformanceTest, ReaderBudgetHoldsWhileBuffersAreHeld) {
  for (int i = 0; i < 8; ++i) Put("b/" + std::to_string(i), Pattern(256 << 10, i));
  ReaderOptions options;
  options.max_bytes_in_flight = 512 << 10;
  Result<std::unique_ptr<Reader>> reader = store_->MakeReader(options);
  ASSERT_TRUE(reader.ok());
  std::vector<ReadRequest> group;
  for (int i = 0; i < 8; ++i) group.push_back(Request("b/" + std::to_string(i), {}, i));
  ASSERT_TRUE((*reader)->Submit(std::move(group)).ok());
  // Hold every buffer: the reader must stop at its budget (plus one read) and wait.
  std::vector<Buffer> held;
  Completion c;
  while ((*reader)->NextFor(&c, 300)) {
    ASSERT_NE(c.kind, Completion::Kind::kEndOfGroup) << "the budget did not hold";
    ASSERT_TRUE(c.status.ok()) << c.status.ToString();
    held.push_back(std::move(c.data));
    c = Completion();
    EXPECT_LE((*reader)->bytes_in_flight(), options.max_bytes_in_flight + (256 << 10));
  }
  const size_t first = held.size();
  EXPECT_GE(first, 1u);
  EXPECT_LE(first, 3u) << "a 512 KiB budget holds at most two 256 KiB reads plus one";
  // TrySubmit refuses while the budget is used up.
  std::vector<ReadRequest> more;
  more.push_back(Request("b/0", {}, 100));
  Result<uint64_t> refused = (*reader)->TrySubmit(more);
  if (!refused.ok()) {
    EXPECT_EQ(refused.status().code(), StatusCode::kResourceExhausted);
    EXPECT_EQ(more.size(), 1u) << "a refused group is left untouched";
  }
  // Releasing them lets the rest through.
  held.clear();
  size_t rest = 0;
  bool ended = false;
  while ((*reader)->NextFor(&c, 5000)) {
    if (c.kind == Completion::Kind::kEndOfGroup) {
      if (c.group == 0) ended = true;
      continue;
    }
    if (c.group == 0) ++rest;
    c = Completion();
  }
  EXPECT_TRUE(ended);
  EXPECT_EQ(rest + first, 8u);
}

TEST_P(StoreConformanceTest, ReaderShutdownAndManyRequests) {
  Put("many", Pattern(1 << 20, 3));
  Result<std::unique_ptr<Reader>> reader = store_->MakeReader({});
  ASSERT_TRUE(reader.ok());
  std::vector<ReadRequest> group;
  std::mt19937 rng(5);
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (uint64_t i = 0; i < 2000; ++i) {
    const uint64_t off = rng() % ((1 << 20) - 4096);
    const uint64_t len = rng() % 4096;
    ranges.emplace_back(off, len);
    group.push_back(Request("many", ByteRange::Range(off, len), i));
  }
  std::map<uint64_t, Completion> got = ReadGroup(**reader, std::move(group));
  const std::string value = Pattern(1 << 20, 3);
  for (uint64_t i = 0; i < 2000; ++i) {
    ASSERT_TRUE(got[i].status.ok()) << got[i].status.ToString();
    ASSERT_EQ(AsString(got[i].data), value.substr(ranges[i].first, ranges[i].second)) << i;
  }
  got.clear();
  // Shutdown with work queued: no hang, Next ends, Submit refuses.
  std::vector<ReadRequest> late;
  for (uint64_t i = 0; i < 100; ++i) late.push_back(Request("many", {}, i));
  ASSERT_TRUE((*reader)->Submit(std::move(late)).ok());
  (*reader)->Shutdown();
  Completion c;
  while ((*reader)->Next(&c)) c = Completion();
  std::vector<ReadRequest> after;
  after.push_back(Request("many", {}, 0));
  EXPECT_FALSE((*reader)->Submit(std::move(after)).ok());
}

TEST_P(StoreConformanceTest, ReadManyAndDescribe) {
  Put("m/a", "A");
  Put("m/b", "BB");
  const std::vector<std::string> keys = {"m/a", "m/missing", "m/b"};
  Result<std::vector<std::optional<Buffer>>> values = ReadMany(*store_, keys);
  ASSERT_TRUE(values.ok()) << values.status().ToString();
  ASSERT_EQ(values->size(), 3u);
  EXPECT_EQ(AsString(*(*values)[0]), "A");
  EXPECT_FALSE((*values)[1].has_value());
  EXPECT_EQ(AsString(*(*values)[2]), "BB");
  const std::string where = store_->Describe("m/a");
  EXPECT_NE(where.find("m/a"), std::string::npos) << where;
  EXPECT_EQ(store_->url(), store_->Describe(""));
}

TEST_P(StoreConformanceTest, ConcurrentReadersAndWriters) {
  if (!GetParam().can_write) GTEST_SKIP() << "read-only store";
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        // (Appends, not "t" + std::string: GCC 12 reports a false -Wrestrict on that.)
        std::string key = "t";
        key.append(std::to_string(t)).append("/").append(std::to_string(i));
        const std::string value = Pattern(100 + i, t * 100 + i);
        if (!store_->Write(key, Bytes(value)).ok()) ++failures;
        Result<std::optional<Buffer>> v = store_->Read(key);
        if (!v.ok() || !v->has_value() || AsString(**v) != value) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace lsio::kvstore::testing
