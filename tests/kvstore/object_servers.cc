#include "object_servers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

namespace lsio::kvstore::testing {

namespace fs = std::filesystem;

ChildProcess::ChildProcess(std::vector<std::string> argv, const fs::path& log) {
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    setpgid(0, 0);
    // A test killed by a timeout takes its servers with it.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execv(args[0], args.data());
    _exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ <= 0) return;
  kill(-pid_, SIGTERM);
  for (int i = 0; i < 50; ++i) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill(-pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
}

bool ChildProcess::running() {
  return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0;
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

bool WaitForPort(int port, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int>(seconds * 1000));
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    if (ok) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

fs::path SourceDir() {
  const char* s = std::getenv("LSIO_SOURCE_DIR");
  return s ? fs::path(s) : fs::current_path();
}

fs::path VenvBin(const std::string& name) { return SourceDir() / ".venv" / "bin" / name; }

TempDir::TempDir(const std::string& tag) {
  std::random_device rd;
  path_ = fs::temp_directory_path() /
          ("lsio-" + tag + "-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string Server::log() const {
  std::ifstream in(dir->path() / "log.txt");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {

std::unique_ptr<Server> Launch(const std::string& tag, std::vector<std::string> argv,
                               std::unique_ptr<Server> s, double wait_s = 60) {
  s->process = std::make_unique<ChildProcess>(std::move(argv), s->dir->path() / "log.txt");
  if (!WaitForPort(s->port, wait_s)) {
    std::cerr << tag << " did not start on port " << s->port << ":\n" << s->log() << "\n";
    return nullptr;
  }
  return s;
}

}  // namespace

std::unique_ptr<Server> StartMoto(const std::vector<std::string>& buckets) {
  auto s = std::make_unique<Server>();
  s->dir = std::make_unique<TempDir>("moto");
  s->port = FreePort();
  std::string names;
  for (const std::string& b : buckets) names += "'" + b + "',";
  const std::string script =
      "import time, boto3\n"
      "from moto.server import ThreadedMotoServer\n"
      "s = ThreadedMotoServer(ip_address='127.0.0.1', port=" + std::to_string(s->port) + ")\n"
      "s.start()\n"
      "c = boto3.client('s3', endpoint_url='http://127.0.0.1:" + std::to_string(s->port) +
      "', aws_access_key_id='" + kTestKey + "', aws_secret_access_key='x', "
      "region_name='us-east-1')\n"
      "for b in [" + names + "]: c.create_bucket(Bucket=b)\n"
      "open('" + (s->dir->path() / "ready").string() + "', 'w').close()\n"
      "time.sleep(1800)\n";
  const fs::path ready = s->dir->path() / "ready";
  std::vector<std::string> argv = {VenvBin("python").string(), "-c", script};
  auto out = Launch("moto", std::move(argv), std::move(s));
  if (!out) return nullptr;
  for (int i = 0; i < 600 && !fs::exists(ready); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!fs::exists(ready)) {
    std::cerr << "moto: buckets not created:\n" << out->log() << "\n";
    return nullptr;
  }
  return out;
}

void RcloneSeedDelay() { std::this_thread::sleep_for(std::chrono::milliseconds(1200)); }

std::unique_ptr<Server> StartRclone(const std::vector<std::string>& buckets) {
  auto s = std::make_unique<Server>();
  s->dir = std::make_unique<TempDir>("rclone");
  s->port = FreePort();
  const fs::path data = s->dir->path() / "data";
  for (const std::string& b : buckets) fs::create_directories(data / b);
  std::ofstream(s->dir->path() / "rclone.conf").close();
  std::vector<std::string> argv = {VenvBin("rclone").string(), "serve", "s3", "--config",
                                   (s->dir->path() / "rclone.conf").string(), "--addr",
                                   "127.0.0.1:" + std::to_string(s->port), "--auth-key",
                                   std::string(kTestKey) + "," + kTestSecret, "--no-checksum",
                                   // 0s makes rclone spin in its cache cleanup (a timer
                                   // storm that starves the server); files put on disk by a
                                   // test are seen after SeedDelay().
                                   "--dir-cache-time", "1s",
                                   data.string()};
  return Launch("rclone", std::move(argv), std::move(s));
}

std::unique_ptr<Server> StartNginx() {
  auto s = std::make_unique<Server>();
  s->dir = std::make_unique<TempDir>("nginx");
  s->port = FreePort();
  const fs::path d = s->dir->path();
  fs::create_directories(d / "www");
  fs::create_directories(d / "tmp");
  std::ofstream(d / "nginx.conf")
      << "daemon off;\nmaster_process off;\nworker_processes 1;\npid " << (d / "nginx.pid").string()
      << ";\nerror_log " << (d / "error.log").string() << " warn;\n"
      << "events { worker_connections 1024; }\n"
      << "http {\n  access_log off;\n  client_body_temp_path " << (d / "tmp").string() << ";\n"
      << "  proxy_temp_path " << (d / "tmp").string() << ";\n"
      << "  fastcgi_temp_path " << (d / "tmp").string() << ";\n"
      << "  uwsgi_temp_path " << (d / "tmp").string() << ";\n"
      << "  scgi_temp_path " << (d / "tmp").string() << ";\n"
      << "  keepalive_requests 100000;\n"
      << "  server {\n    listen 127.0.0.1:" << s->port << ";\n    root " << (d / "www").string()
      << ";\n  }\n}\n";
  std::vector<std::string> argv = {"/usr/sbin/nginx", "-p", d.string(), "-c",
                                   (d / "nginx.conf").string()};
  return Launch("nginx", std::move(argv), std::move(s));
}

std::unique_ptr<Server> StartFaultProxy(int upstream_port, const std::vector<std::string>& args) {
  auto s = std::make_unique<Server>();
  s->dir = std::make_unique<TempDir>("proxy");
  s->port = FreePort();
  std::vector<std::string> argv = {VenvBin("python").string(),
                                   (SourceDir() / "tests/kvstore/fault_proxy.py").string(),
                                   "--port", std::to_string(s->port), "--upstream",
                                   "127.0.0.1:" + std::to_string(upstream_port)};
  argv.insert(argv.end(), args.begin(), args.end());
  return Launch("fault proxy", std::move(argv), std::move(s));
}

}  // namespace lsio::kvstore::testing
