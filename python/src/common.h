#pragma once

// What the extension's binding files share: Status -> Python exception (raised as StatusError in
// binding code, translated once by the translator module.cc registers), cancellation tokens, and
// JSON -> Python values.

#include <nanobind/nanobind.h>

#include <atomic>
#include <exception>
#include <functional>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsio/array/selection.h"
#include "lsio/base/result.h"
#include "lsio/base/status.h"

namespace lsio::python {

namespace nb = nanobind;

// Carries a Status out of the binding code to the translator. Never thrown inside the library.
class StatusError : public std::exception {
 public:
  explicit StatusError(Status s) : status_(std::move(s)) {}
  const char* what() const noexcept override { return status_.message().c_str(); }
  const Status& status() const { return status_; }

 private:
  Status status_;
};

inline void ThrowIfError(const Status& s) {
  if (!s.ok()) throw StatusError(s);
}

template <typename T>
T ValueOrThrow(Result<T> r) {
  if (!r.ok()) throw StatusError(r.status());
  return std::move(r).value();
}

class CancelToken {
 public:
  void cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }

 private:
  std::atomic<bool> cancelled_{false};
};

// A JSON value as the Python value json.loads would give.
nb::object JsonToPython(const nlohmann::json& j);

// Python selector tuples (built by lsio._selection) -> selectors (module.cc).
std::vector<array::DimSelector> ToSelectorList(const nb::list& selectors);

// The array-layer bindings (array_binding.cc): native dataset and array handles.
void RegisterArrayBindings(nb::module_& m);
// The operations on user functions (ops_binding.cc): map_reduce, map_blocks.
void RegisterOpsBindings(nb::module_& m);

}  // namespace lsio::python
