// array/dataset_cache.h: datasets opened once per key, handles that notice a rewritten store
// (on a MemoryStore holding Zarr v3, read back through array::ReadInto).

#include "lsio/array/dataset_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "lsio/array/read.h"
#include "lsio/format/open.h"
#include "lsio/kvstore/open.h"

namespace lsio::array {
namespace {

using nlohmann::json;

std::span<const std::byte> Bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

std::string ArrayJson(std::vector<int64_t> shape, std::vector<int64_t> chunks,
                      const char* dtype = "float32", json attrs = {{"units", "K"}},
                      int indent = -1) {
  json j = {{"zarr_format", 3},
            {"node_type", "array"},
            {"shape", shape},
            {"data_type", dtype},
            {"chunk_grid", {{"name", "regular"}, {"configuration", {{"chunk_shape", chunks}}}}},
            {"chunk_key_encoding", {{"name", "default"}}},
            {"fill_value", 0},
            {"codecs", json::array({{{"name", "bytes"}, {"configuration", {{"endian", "little"}}}}})},
            {"dimension_names", {"time", "x"}},
            {"attributes", attrs}};
  return j.dump(indent);
}

// Array "a" of shape (rows, 4), float32 value 1000 * version + 4 * t + x, in chunks of
// (chunk_rows, 4).
void WriteArray(kvstore::Store& store, int64_t rows, int64_t chunk_rows, int version,
                int indent = -1) {
  ASSERT_TRUE(store.DeletePrefix("a").ok());
  ASSERT_TRUE(store.Write("zarr.json", Bytes(R"({"zarr_format": 3, "node_type": "group"})")).ok());
  ASSERT_TRUE(store.Write("a/zarr.json", Bytes(ArrayJson({rows, 4}, {chunk_rows, 4}, "float32",
                                                         {{"units", "K"}}, indent)))
                  .ok());
  for (int64_t c = 0; c * chunk_rows < rows; ++c) {
    std::vector<float> v;
    for (int64_t t = c * chunk_rows; t < (c + 1) * chunk_rows; ++t) {
      for (int x = 0; x < 4; ++x) v.push_back(static_cast<float>(1000 * version + 4 * t + x));
    }
    const std::string raw(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
    ASSERT_TRUE(store.Write("a/c/" + std::to_string(c) + "/0", Bytes(raw)).ok());
  }
}

class DatasetCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    location_ = "memory://dataset-cache-" +
                std::string(::testing::UnitTest::GetInstance()->current_test_info()->name());
    auto store = kvstore::OpenStore(location_);
    ASSERT_TRUE(store.ok());
    store_ = *store;
    auto context = runtime::Context::Make({});
    ASSERT_TRUE(context.ok());
    context_ = *context;
    opener_ = [this]() -> Result<std::shared_ptr<const Dataset>> {
      ++opened_;
      return format::OpenDataset(*context_, location_);
    };
  }

  std::vector<float> ReadAll(const ArraySource& a) {
    std::vector<float> out(static_cast<size_t>(a.info().num_elements()));
    std::vector<DimRange> ranges;
    for (int64_t n : a.info().shape) ranges.push_back(FullRange(n));
    Status st = ReadInto(a, ranges, std::as_writable_bytes(std::span(out)), *context_);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }

  std::string location_;
  std::shared_ptr<kvstore::Store> store_;
  std::shared_ptr<runtime::Context> context_;
  std::atomic<int> opened_{0};
  DatasetOpener opener_;
};

TEST_F(DatasetCacheTest, OpensOncePerKeyAndReloadsOnRequest) {
  WriteArray(*store_, 6, 2, 1);
  DatasetCache cache;
  auto a = cache.Get("k", opener_);
  auto b = cache.Get("k", opener_);
  ASSERT_TRUE(a.ok() && b.ok()) << a.status().ToString();
  EXPECT_EQ(a->get(), b->get());
  EXPECT_EQ(opened_.load(), 1);
  auto c = cache.Reload("k", opener_);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(c->get(), a->get());
  EXPECT_EQ(cache.Get("k", opener_)->get(), c->get());
  EXPECT_EQ(opened_.load(), 2);
  // Refresh of something no longer cached returns the current one without opening.
  EXPECT_EQ(cache.Refresh("k", a->get(), opener_)->get(), c->get());
  EXPECT_EQ(opened_.load(), 2);
  EXPECT_EQ(cache.size(), 1u);
}

TEST_F(DatasetCacheTest, ConcurrentCallersOpenOnceAndErrorsAreNotCached) {
  WriteArray(*store_, 6, 2, 1);
  DatasetCache cache;
  DatasetOpener slow = [this]() -> Result<std::shared_ptr<const Dataset>> {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return opener_();
  };
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] { ok += cache.Get("k", slow).ok() ? 1 : 0; });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(opened_.load(), 1);

  DatasetOpener failing = [] () -> Result<std::shared_ptr<const Dataset>> {
    return NotFoundError("nothing here");
  };
  EXPECT_EQ(cache.Get("missing", failing).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(cache.size(), 1u);
}

TEST_F(DatasetCacheTest, BoundedLeastRecentlyUsed) {
  WriteArray(*store_, 6, 2, 1);
  DatasetCache cache(2);
  ASSERT_TRUE(cache.Get("a", opener_).ok());
  ASSERT_TRUE(cache.Get("b", opener_).ok());
  ASSERT_TRUE(cache.Get("a", opener_).ok());  // a is now the most recent
  ASSERT_TRUE(cache.Get("c", opener_).ok());  // evicts b
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(opened_.load(), 3);
  ASSERT_TRUE(cache.Get("a", opener_).ok());
  EXPECT_EQ(opened_.load(), 3);
  ASSERT_TRUE(cache.Get("b", opener_).ok());
  EXPECT_EQ(opened_.load(), 4);
}

TEST_F(DatasetCacheTest, HandleFollowsRewritesThatKeepTheArrayAndRefusesOthers) {
  WriteArray(*store_, 6, 2, 1);
  DatasetCache cache;
  auto ds = cache.Get("k", opener_);
  ASSERT_TRUE(ds.ok());
  auto handle = ArrayHandle::Make(cache, "k", opener_, *ds, "a");
  ASSERT_TRUE(handle.ok()) << handle.status().ToString();
  auto pinned = (*handle)->Current();
  ASSERT_TRUE(pinned.ok());
  EXPECT_EQ(ReadAll(*pinned->array)[5], 1005.0f);
  EXPECT_EQ(opened_.load(), 1);

  // New values, same metadata bytes: read as they are now, nothing re-opened.
  WriteArray(*store_, 6, 2, 2);
  pinned = (*handle)->Current();
  ASSERT_TRUE(pinned.ok());
  EXPECT_EQ(ReadAll(*pinned->array)[5], 2005.0f);
  EXPECT_EQ(opened_.load(), 1);

  // The same metadata written differently (indented): still current, not re-opened.
  WriteArray(*store_, 6, 2, 2, /*indent=*/2);
  pinned = (*handle)->Current();
  ASSERT_TRUE(pinned.ok());
  EXPECT_EQ(opened_.load(), 1);

  // New chunking, same shape and type: re-opened once, decoded with the new chunk grid.
  WriteArray(*store_, 6, 3, 3);
  pinned = (*handle)->Current();
  ASSERT_TRUE(pinned.ok()) << pinned.status().ToString();
  EXPECT_EQ(opened_.load(), 2);
  EXPECT_EQ(pinned->array->info().chunk_shape, (std::vector<int64_t>{3, 4}));
  std::vector<float> values = ReadAll(*pinned->array);
  for (size_t i = 0; i < values.size(); ++i) ASSERT_EQ(values[i], 3000.0f + i) << i;
  // A second handle on the same (stale) dataset finds the refreshed one without opening.
  auto other = ArrayHandle::Make(cache, "k", opener_, *ds, "a");
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE((*other)->Current().ok());
  EXPECT_EQ(opened_.load(), 2);

  // Another shape: a clear error, never data of the new array under the old shape.
  WriteArray(*store_, 8, 2, 4);
  pinned = (*handle)->Current();
  ASSERT_FALSE(pinned.ok());
  EXPECT_EQ(pinned.status().code(), StatusCode::kChanged);
  EXPECT_NE(pinned.status().message().find("shape (6, 4) -> (8, 4)"), std::string::npos)
      << pinned.status().message();
  EXPECT_NE(pinned.status().message().find("array 'a'"), std::string::npos);

  // Gone.
  ASSERT_TRUE(store_->DeletePrefix("a").ok());
  pinned = (*handle)->Current();
  ASSERT_FALSE(pinned.ok());
  EXPECT_EQ(pinned.status().code(), StatusCode::kChanged);
}

TEST_F(DatasetCacheTest, ANewerCachedDatasetIsCheckedBeforeUse) {
  WriteArray(*store_, 6, 2, 1);
  DatasetCache cache;
  auto ds = cache.Get("k", opener_);
  ASSERT_TRUE(ds.ok());
  auto first = ArrayHandle::Make(cache, "k", opener_, *ds, "a");
  auto second = ArrayHandle::Make(cache, "k", opener_, *ds, "a");
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_TRUE((*first)->Current().ok());
  ASSERT_TRUE((*second)->Current().ok());
  // The first handle refreshes the cache after one rewrite...
  WriteArray(*store_, 6, 3, 2);
  ASSERT_TRUE((*first)->Current().ok());
  EXPECT_EQ(opened_.load(), 2);
  // ... and the store changes again before the second handle looks: what the cache holds is
  // stale too, and must not be used.
  WriteArray(*store_, 6, 1, 3);
  auto pinned = (*second)->Current();
  ASSERT_TRUE(pinned.ok()) << pinned.status().ToString();
  EXPECT_EQ(pinned->array->info().chunk_shape, (std::vector<int64_t>{1, 4}));
  std::vector<float> values = ReadAll(*pinned->array);
  for (size_t i = 0; i < values.size(); ++i) ASSERT_EQ(values[i], 3000.0f + i) << i;
  EXPECT_EQ(opened_.load(), 3);
}

TEST_F(DatasetCacheTest, ReopenFindsTheCachedDatasetAndChecksWhatItDescribed) {
  WriteArray(*store_, 6, 2, 1);
  DatasetCache cache;
  auto ds = cache.Reload("k", opener_);
  ASSERT_TRUE(ds.ok());
  auto first = ArrayHandle::Make(cache, "k", opener_, *ds, "a");
  ASSERT_TRUE(first.ok());
  const ArrayInfo described = (*first)->info();
  for (int i = 0; i < 5; ++i) {
    auto again = ArrayHandle::Reopen(cache, "k", opener_, described);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_EQ((*again)->Last().dataset.get(), ds->get());
  }
  EXPECT_EQ(opened_.load(), 1);

  ArrayInfo other = described;
  other.attributes["units"] = "degC";
  auto mismatch = ArrayHandle::Reopen(cache, "k", opener_, other);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.status().code(), StatusCode::kChanged);
  EXPECT_NE(mismatch.status().message().find("attributes"), std::string::npos);

  // The store rewritten with another type after the dataset was cached: Reopen looks at the
  // store as it is and refuses it.
  ASSERT_TRUE(store_->Write("a/zarr.json", Bytes(ArrayJson({6, 4}, {2, 4}, "float64"))).ok());
  auto changed = ArrayHandle::Reopen(cache, "k", opener_, described);
  ASSERT_FALSE(changed.ok());
  EXPECT_EQ(changed.status().code(), StatusCode::kChanged);
  EXPECT_NE(changed.status().message().find("dtype float32 -> float64"), std::string::npos)
      << changed.status().message();
}

TEST(CheckSameArray, NamesTheDifference) {
  ArrayInfo a;
  a.path = "t";
  a.shape = {3};
  a.dims = {"x"};
  a.element.storage = DataType::kInt16;
  a.element.name = "int16";
  ArrayInfo b = a;
  EXPECT_TRUE(CheckSameArray(a, b, "t").ok());
  b.chunk_shape = {9};  // chunking may change
  EXPECT_TRUE(CheckSameArray(a, b, "t").ok());
  b.dims = {"y"};
  EXPECT_NE(CheckSameArray(a, b, "t").message().find("dimensions (x) -> (y)"), std::string::npos);
  b = a;
  b.fill_value = {std::byte{1}, std::byte{0}};
  EXPECT_EQ(CheckSameArray(a, b, "t").code(), StatusCode::kChanged);
}

}  // namespace
}  // namespace lsio::array
