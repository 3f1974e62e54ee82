#pragma once

// One suite every Store passes (Arrow's filesystem/test_util.h, TensorStore's
// kvstore/test_util.h): reads of whole values, ranges and suffixes, errors past the end,
// missing keys, sizes, listings, writes, deletes, atomic publication, and the Reader's
// three-queue contract (group order, end-of-group markers, tags, budget).
//
// A store implementation instantiates it with a factory:
//
//   INSTANTIATE_TEST_SUITE_P(File, StoreConformanceTest,
//                            ::testing::Values(StoreFactory{"file", [] { return ...; }}),
//                            StoreFactoryName);
//
// and compiles store_conformance.cc into its test binary. Each test gets a fresh, empty store.

#include <functional>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "lsio/kvstore/store.h"

namespace lsio::kvstore::testing {

struct StoreFactory {
  std::string name;
  // A new, empty store (the fixture deletes what it wrote through DeletePrefix("") after).
  std::function<std::shared_ptr<Store>()> make;
  // Plain HTTP has no listing: the listing tests are skipped when false.
  bool can_list = true;
  // Read-only stores (plain HTTP): write tests are skipped and `seed` fills the store instead.
  bool can_write = true;
  // For read-only stores: puts `value` at `key` behind the store's back.
  std::function<void(const std::string& key, const std::string& value)> seed;
};

inline std::string StoreFactoryName(const ::testing::TestParamInfo<StoreFactory>& info) {
  return info.param.name;
}

class StoreConformanceTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;
  // Writes through the store, or seeds a read-only one.
  void Put(const std::string& key, const std::string& value);

  std::shared_ptr<Store> store_;
};

}  // namespace lsio::kvstore::testing
