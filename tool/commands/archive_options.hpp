// Options that every command reading an archive takes alike (verify,
// restore, drill, archive show, diff): one wording, one meaning.
#pragma once

#include <string>
#include <vector>

#include "tool/context.hpp"

namespace hsm::tool {

inline constexpr const char* kTrustedRootHelp =
    "also trust this manufacturing root (DER/PEM certificate or its SHA-256 in hex); repeatable";

// The --trusted-root values, in the order given.
inline std::vector<std::string> roots_of(const po::variables_map& vm) {
  return vm.count("trusted-root") ? vm["trusted-root"].as<std::vector<std::string>>()
                                  : std::vector<std::string>{};
}

}  // namespace hsm::tool
