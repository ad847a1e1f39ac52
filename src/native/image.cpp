// image kernels of the compiled core (filled in by its owner).
#include "common.hpp"

namespace sigconv {

void register_image(py::module_& m) {
    (void)m;
}

}  // namespace sigconv
