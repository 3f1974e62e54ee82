// The lsio._lsio extension module: one binding file per layer, registered here.
#include <nanobind/nanobind.h>

namespace nb = nanobind;

NB_MODULE(_lsio, m) {
  m.doc() = "lsio native extension";
  m.attr("__version__") = "0.1.0";
}
