// Object labels as a Luna partition takes them (rule X10, which the Luna
// documents state for cloud services; the model applies it to every Luna
// kind): 1 to 32 characters of strict UTF-8, and (model) no control
// character. A label is checked when a key is made; objects that already
// carry another label (made before this check, or by another tool) still
// back up and list, shown escaped.
#pragma once

#include <string_view>

#include "plugins/api/status.hpp"

namespace hsm::luna::rules {

inline constexpr std::size_t kMaxLabelChars = 32;

// Errors: usage, naming what is wrong (rule X10) and the fix.
api::Status check_label(std::string_view label);

}  // namespace hsm::luna::rules
