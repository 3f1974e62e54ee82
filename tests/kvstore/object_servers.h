#pragma once

// Servers for the object store tests, started by the tests on 127.0.0.1 and stopped by them
// (each is killed when its object is destroyed, and each also stops by itself after a
// lifetime): moto's ThreadedMotoServer (S3 semantics), `rclone serve s3` (checks SigV4
// signatures; its buckets are directories, so what the store writes can be checked on disk),
// nginx (plain HTTP with ranges) and fault_proxy.py in front of any of them.

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace lsio::kvstore::testing {

// A child process, killed (SIGTERM, then SIGKILL) and reaped on destruction.
class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> argv, const std::filesystem::path& log);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  bool running();
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

// A TCP port free on 127.0.0.1 now.
int FreePort();
// Until something accepts connections on 127.0.0.1:port, at most `seconds`.
bool WaitForPort(int port, double seconds);

std::filesystem::path SourceDir();
std::filesystem::path VenvBin(const std::string& name);

// A fresh directory under the system's temporary directory, removed on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& tag);
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct Server {
  std::unique_ptr<TempDir> dir;
  std::unique_ptr<ChildProcess> process;
  int port = 0;
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port); }
  std::string log() const;  // what the process printed (for failure messages)
};

inline constexpr char kTestKey[] = "AKIDLSIOTEST";
inline constexpr char kTestSecret[] = "lsio/test+secret=KEY0123456789abcdef";

// Null (and a message on stderr) when the server cannot be started.
std::unique_ptr<Server> StartMoto(const std::vector<std::string>& buckets);
// Buckets are directories of server->dir / "data"; rclone caches directory listings for 1 s,
// so a test that puts files there waits RcloneSeedDelay() before reading them.
void RcloneSeedDelay();
std::unique_ptr<Server> StartRclone(const std::vector<std::string>& buckets);
// Serves server->dir / "www".
std::unique_ptr<Server> StartNginx();
std::unique_ptr<Server> StartFaultProxy(int upstream_port, const std::vector<std::string>& args);

}  // namespace lsio::kvstore::testing
