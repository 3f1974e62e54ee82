// The runtime Context: one store per location, idle readers reused (no new engine per run),
// never for another store, and never while their buffers are still held.

#include "lsio/runtime/context.h"

#include <gtest/gtest.h>

#include "lsio/kvstore/memory_store.h"

namespace lsio::runtime {
namespace {

std::span<const std::byte> Bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

TEST(Context, StoresOpenOncePerLocation) {
  Result<std::shared_ptr<Context>> c = Context::Make({});
  ASSERT_TRUE(c.ok());
  Result<std::shared_ptr<kvstore::Store>> a = (*c)->OpenStore("memory://ctx-a");
  Result<std::shared_ptr<kvstore::Store>> b = (*c)->OpenStore("memory://ctx-a");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->get(), b->get());
  Result<std::shared_ptr<kvstore::Store>> f1 = (*c)->OpenStore("/tmp/ctx-x");
  Result<std::shared_ptr<kvstore::Store>> f2 = (*c)->OpenStore("/tmp/ctx-x");
  EXPECT_EQ(f1->get(), f2->get());
}

TEST(Context, IdleReadersAreReusedForTheirStoreOnly) {
  Result<std::shared_ptr<Context>> c = Context::Make({});
  ASSERT_TRUE(c.ok());
  std::shared_ptr<kvstore::Store> s1 = kvstore::MakeMemoryStore();
  std::shared_ptr<kvstore::Store> s2 = kvstore::MakeMemoryStore();
  ASSERT_TRUE(s1->Write("k", Bytes("one")).ok());
  ASSERT_TRUE(s2->Write("k", Bytes("two")).ok());
  kvstore::Reader* first = nullptr;
  {
    Result<ReaderLease> lease = (*c)->AcquireReader(s1, {});
    ASSERT_TRUE(lease.ok());
    first = lease->get();
  }
  EXPECT_EQ((*c)->idle_readers(), 1u);
  {
    Result<ReaderLease> lease = (*c)->AcquireReader(s1, {});
    EXPECT_EQ(lease->get(), first) << "the idle reader is reused";
  }
  {
    Result<ReaderLease> other = (*c)->AcquireReader(s2, {});
    EXPECT_NE(other->get(), first) << "never a reader of another store";
    std::vector<kvstore::ReadRequest> g(1);
    g[0].key = "k";
    ASSERT_TRUE((*other)->Submit(std::move(g)).ok());
    kvstore::Completion comp;
    ASSERT_TRUE((*other)->Next(&comp));
    EXPECT_EQ(comp.data.as_string_view(), "two");
    // The buffer is still held when the lease ends: that reader is not kept.
    Buffer held = comp.data;
    while ((*other)->Next(&comp)) {
    }
    const size_t idle_before = (*c)->idle_readers();
    other = Result<ReaderLease>(ReaderLease());
    EXPECT_EQ((*c)->idle_readers(), idle_before);
    EXPECT_EQ(held.as_string_view(), "two") << "held buffers stay valid";
  }
}

}  // namespace
}  // namespace lsio::runtime
