#pragma once

// What the extension's binding files share: Status -> Python exception (raised as StatusError in
// binding code, translated once by the translator module.cc registers), cancellation tokens, and
// JSON -> Python values.

#include <nanobind/nanobind.h>

#include <atomic>
#include <exception>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsio/array/selection.h"
#include "lsio/base/result.h"
#include "lsio/base/status.h"

namespace lsio::python {

namespace nb = nanobind;

// What a Status is about, when its code alone does not pick the Python exception: a kNotFound
// about a store's key (a file or an object) is a FileNotFoundError, about a variable a KeyError.
enum class ErrorSubject : unsigned char { kDefault, kKey };

// Carries a Status out of the binding code to the translator. Never thrown inside the library.
class StatusError : public std::exception {
 public:
  explicit StatusError(Status s, ErrorSubject subject = ErrorSubject::kDefault)
      : status_(std::move(s)), subject_(subject) {}
  const char* what() const noexcept override { return status_.message().c_str(); }
  const Status& status() const { return status_; }
  ErrorSubject subject() const { return subject_; }

 private:
  Status status_;
  ErrorSubject subject_;
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

// Ctrl-C during a long read on the main thread: the waiting code polls this (about every 20-50
// ms) from the calling thread, which briefly takes the GIL to let Python run its signal
// handlers. The KeyboardInterrupt they raise stays set and is re-raised when the read returns.
// Reads on other threads (dask workers) are not interruptible, as numpy's are not.
class MainThreadInterrupt {
 public:
  MainThreadInterrupt() {
    static const unsigned long main_ident = [] {
      nb::object threading = nb::module_::import_("threading");
      return nb::cast<unsigned long>(threading.attr("main_thread")().attr("ident"));
    }();
    on_main_ = PyThread_get_thread_ident() == main_ident;
  }
  std::function<bool()> Poll() {
    if (!on_main_) return {};
    return [this] {
      nb::gil_scoped_acquire gil;
      if (PyErr_CheckSignals() != 0) interrupted_ = true;
      return interrupted_;
    };
  }
  // Call with the GIL held after the read.
  void RaiseIfInterrupted() const {
    if (interrupted_) throw nb::python_error();
  }

 private:
  bool on_main_ = false;
  bool interrupted_ = false;
};

// A JSON value as the Python value json.loads would give.
nb::object JsonToPython(const nlohmann::json& j);

// Python selector tuples (built by lsio._selection) -> selectors (module.cc).
std::vector<array::DimSelector> ToSelectorList(const nb::list& selectors);

// The array-layer bindings (array_binding.cc): native dataset and array handles.
void RegisterArrayBindings(nb::module_& m);
// The operations on user functions (ops_binding.cc): map_reduce, map_blocks.
void RegisterOpsBindings(nb::module_& m);

// The store-layer bindings (store_binding.cc): lsio.store, lsio.read_ranges.
void RegisterStoreBindings(nb::module_& m);

}  // namespace lsio::python
