// direct kernels of the compiled core (filled in by its owner).
#include "common.hpp"

namespace sigconv {

void register_direct(py::module_& m) {
    (void)m;
}

}  // namespace sigconv
