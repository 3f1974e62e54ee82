// The store conformance suite, unchanged, on S3Store (rclone serve s3, which checks SigV4
// signatures, and moto) and on HttpStore (nginx; read-only and without listing, so the suite
// seeds files into nginx's root and skips writes and listings).

#include <atomic>
#include <filesystem>
#include <fstream>

#include "lsio/kvstore/http_store.h"
#include "lsio/kvstore/s3_store.h"
#include "object_servers.h"
#include "store_conformance.h"

namespace lsio::kvstore::testing {
namespace {

// Started on first use, stopped when the test program ends.
class ObjectServers : public ::testing::Environment {
 public:
  static ObjectServers& Get() {
    static ObjectServers* env = [] {
      auto* e = new ObjectServers;
      ::testing::AddGlobalTestEnvironment(e);  // gtest owns and tears it down
      return e;
    }();
    return *env;
  }
  Server* rclone() {
    if (!rclone_) rclone_ = StartRclone({"conformance"});
    return rclone_.get();
  }
  Server* moto() {
    if (!moto_) moto_ = StartMoto({"conformance"});
    return moto_.get();
  }
  Server* nginx() {
    if (!nginx_) nginx_ = StartNginx();
    return nginx_.get();
  }
  void TearDown() override {
    rclone_.reset();
    moto_.reset();
    nginx_.reset();
  }

 private:
  std::unique_ptr<Server> rclone_, moto_, nginx_;
};

std::atomic<int> g_counter{0};
std::string g_http_dir;

std::shared_ptr<Store> S3On(Server* server) {
  if (server == nullptr) return nullptr;
  OpenOptions o;
  // Small pages: every listing in the suite is paginated.
  o.storage_options = {{"endpoint_url", server->endpoint()},
                       {"key", kTestKey},
                       {"secret", kTestSecret},
                       {"list_page_size", "3"}};
  Result<std::shared_ptr<Store>> s = OpenS3Store("s3://conformance/t" + std::to_string(g_counter++), o);
  return s.ok() ? *s : nullptr;
}

std::shared_ptr<Store> Nginx() {
  Server* server = ObjectServers::Get().nginx();
  if (server == nullptr) return nullptr;
  g_http_dir = "h" + std::to_string(g_counter++);
  Result<std::shared_ptr<Store>> s = OpenHttpStore(server->endpoint() + "/" + g_http_dir, {});
  return s.ok() ? *s : nullptr;
}

void SeedNginx(const std::string& key, const std::string& value) {
  const std::filesystem::path p = ObjectServers::Get().nginx()->dir->path() / "www" / g_http_dir / key;
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << value;
}

INSTANTIATE_TEST_SUITE_P(
    Object, StoreConformanceTest,
    ::testing::Values(StoreFactory{"rclone", [] { return S3On(ObjectServers::Get().rclone()); },
                                   true, true, nullptr},
                      StoreFactory{"moto", [] { return S3On(ObjectServers::Get().moto()); },
                                   true, true, nullptr},
                      StoreFactory{"nginx", Nginx, /*can_list=*/false, /*can_write=*/false,
                                   SeedNginx}),
    StoreFactoryName);

}  // namespace
}  // namespace lsio::kvstore::testing
