// The lsio command-line tool: flag parsing only; the work lives in the library.
#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
  CLI::App app{"lsio: light-speed IO for chunked arrays"};
  app.require_subcommand(1);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
