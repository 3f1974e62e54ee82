#pragma once

// Store keys: relative, '/'-separated names ("group/array/c/0/1"); "" is the store's root.
// The same rules hold for every store, so nothing a format computes can leave the store.

#include <string>
#include <string_view>

#include "lsio/base/result.h"

namespace lsio::kvstore {

// OK for "" and for keys made of non-empty components that are not "." or "..", with no
// leading '/', no NUL and no backslash. Errors: kInvalidArgument naming the key.
Status ValidateKey(std::string_view key);

// `prefix` + '/' + `key` (either may be empty), after validating `key`.
Result<std::string> JoinKey(std::string_view prefix, std::string_view key);

// The part of `key` after the last '/', and before it ("" when there is none).
std::string_view KeyBaseName(std::string_view key);
std::string_view KeyParent(std::string_view key);

}  // namespace lsio::kvstore
