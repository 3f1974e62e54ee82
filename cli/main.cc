// The lsio command-line tool: flag parsing only; the work lives in the library.
#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>
#include <string>

#include "commands.h"
#include "lsio/base/version.h"

namespace lsio::cli {

namespace {
volatile std::sig_atomic_t g_interrupted = 0;

void OnInterrupt(int) {
  g_interrupted = 1;
  // A second Ctrl-C gets the default action.
  std::signal(SIGINT, SIG_DFL);
}
}  // namespace

int ReportStatus(const Status& status) {
  if (status.ok()) return 0;
  if (status.code() == StatusCode::kCancelled) {
    std::cerr << "lsio: interrupted\n";
    return 130;
  }
  std::cerr << "lsio: " << status.ToString() << "\n";
  return 1;
}

void AddStorageFlags(CLI::App* cmd, const std::shared_ptr<StorageFlags>& flags) {
  cmd->add_flag("--anon", flags->anon,
                "Object storage: unsigned requests (public buckets; as AWS_NO_SIGN_REQUEST=YES)");
  cmd->add_option("--storage-option", flags->options,
                  "Object storage setting KEY=VALUE (repeatable): endpoint_url, region, profile, "
                  "requests, retry_timeout, ... (docs/object-storage.md)");
}

Result<std::map<std::string, std::string>> StorageOptions(const StorageFlags& flags) {
  std::map<std::string, std::string> out;
  if (flags.anon) out["anon"] = "true";
  for (const std::string& o : flags.options) {
    const size_t eq = o.find('=');
    if (eq == std::string::npos || eq == 0) {
      return InvalidArgumentError("--storage-option: expected KEY=VALUE, got '" + o + "'");
    }
    out[o.substr(0, eq)] = o.substr(eq + 1);
  }
  return out;
}

bool Interrupted() { return g_interrupted != 0; }

void InstallInterruptHandler() { std::signal(SIGINT, OnInterrupt); }

}  // namespace lsio::cli

int main(int argc, char** argv) {
  CLI::App app{"lsio: light-speed IO for chunked, labelled arrays (Zarr v2/v3, GRIB2)"};
  app.set_version_flag("--version", "lsio " + std::string(lsio::kVersion));
  app.require_subcommand(1);
  int exit_code = 0;
  lsio::cli::AddInfoCommand(app, &exit_code);
  lsio::cli::AddStatsCommand(app, &exit_code);
  lsio::cli::AddRechunkCommand(app, &exit_code);
  lsio::cli::AddReadCommand(app, &exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
