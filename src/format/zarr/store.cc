#include "lsio/format/zarr/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "lsio/format/zarr/chunk_key.h"

namespace lsio::zarr {

namespace {

constexpr int kMaxWalkDepth = 64;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

class Dir {
 public:
  explicit Dir(DIR* d) : d_(d) {}
  ~Dir() {
    if (d_ != nullptr) ::closedir(d_);
  }
  Dir(const Dir&) = delete;
  Dir& operator=(const Dir&) = delete;
  DIR* get() const { return d_; }

 private:
  DIR* d_;
};

// Lists `path`; nullopt when it does not exist or is not a directory.
Result<std::optional<std::vector<StoreEntry>>> ListPath(const std::string& path) {
  Dir dir(::opendir(path.c_str()));
  if (dir.get() == nullptr) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<std::vector<StoreEntry>>();
    return ErrnoToStatus(errno, path);
  }
  std::vector<StoreEntry> entries;
  const int dfd = ::dirfd(dir.get());
  while (true) {
    errno = 0;
    const dirent* e = ::readdir(dir.get());
    if (e == nullptr) {
      if (errno != 0) return ErrnoToStatus(errno, path);
      break;
    }
    const std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (::fstatat(dfd, e->d_name, &st, 0) != 0) {
      // A dangling symlink or a file removed meanwhile: not part of the store.
      if (errno == ENOENT) continue;
      return ErrnoToStatus(errno, path + "/" + std::string(name));
    }
    StoreEntry entry;
    entry.name = std::string(name);
    entry.is_directory = S_ISDIR(st.st_mode);
    entry.size = S_ISREG(st.st_mode) ? static_cast<uint64_t>(st.st_size) : 0;
    if (entry.is_directory || S_ISREG(st.st_mode)) entries.push_back(std::move(entry));
  }
  std::sort(entries.begin(), entries.end(),
            [](const StoreEntry& a, const StoreEntry& b) { return a.name < b.name; });
  return std::optional<std::vector<StoreEntry>>(std::move(entries));
}

Status Walk(const std::string& path, const std::vector<std::string>& skip, int depth,
            PrefixUsage& usage) {
  if (depth > kMaxWalkDepth) {
    return InvalidArgumentError(path + ": directories nested more than " +
                                std::to_string(kMaxWalkDepth) + " levels deep");
  }
  LSIO_ASSIGN_OR_RETURN(std::optional<std::vector<StoreEntry>> entries, ListPath(path));
  if (!entries) return Status::OK();
  for (const StoreEntry& e : *entries) {
    if (e.is_directory) {
      LSIO_RETURN_IF_ERROR(Walk(path + "/" + e.name, skip, depth + 1, usage));
    } else if (std::find(skip.begin(), skip.end(), e.name) == skip.end()) {
      ++usage.files;
      usage.bytes += e.size;
    }
  }
  return Status::OK();
}

}  // namespace

LocalStore::LocalStore(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::string LocalStore::Describe(std::string_view key) const {
  if (key.empty()) return root_;
  return root_ + "/" + std::string(key);
}

Result<std::optional<std::string>> LocalStore::Read(std::string_view key) const {
  LSIO_RETURN_IF_ERROR(ValidateStoreKey(key));
  const std::string path = Describe(key);
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<std::string>();
    return ErrnoToStatus(errno, path);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoToStatus(errno, path);
  if (S_ISDIR(st.st_mode)) return std::optional<std::string>();
  if (static_cast<uint64_t>(st.st_size) > kMaxMetadataBytes) {
    return ResourceExhaustedError(path + ": " + std::to_string(st.st_size) +
                                  " bytes is more than the " +
                                  std::to_string(kMaxMetadataBytes) +
                                  " bytes lsio reads as metadata");
  }
  std::string data(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::read(fd.get(), data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoToStatus(errno, path);
    }
    if (n == 0) break;  // the file shrank meanwhile: keep what is there
    done += static_cast<size_t>(n);
  }
  data.resize(done);
  return std::optional<std::string>(std::move(data));
}

Result<std::vector<StoreEntry>> LocalStore::List(std::string_view prefix) const {
  LSIO_RETURN_IF_ERROR(ValidateStoreKey(prefix));
  LSIO_ASSIGN_OR_RETURN(std::optional<std::vector<StoreEntry>> entries,
                        ListPath(Describe(prefix)));
  if (!entries) return std::vector<StoreEntry>();
  return std::move(*entries);
}

Result<PrefixUsage> LocalStore::Usage(std::string_view prefix,
                                      const std::vector<std::string>& skip_names) const {
  LSIO_RETURN_IF_ERROR(ValidateStoreKey(prefix));
  PrefixUsage usage;
  LSIO_RETURN_IF_ERROR(Walk(Describe(prefix), skip_names, 0, usage));
  return usage;
}

}  // namespace lsio::zarr
