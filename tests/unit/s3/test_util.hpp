// Small helpers shared by the offline S3 tests.
#pragma once

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>

#include "formats/repo/s3/config.hpp"

namespace hsm::repo::s3::test {

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string reply(const std::string& name) {
  return slurp(std::filesystem::path(HSM_TEST_DATA_DIR) / "s3-replies" / name);
}

// An environment of our own (never the process's).
struct FakeEnv {
  std::map<std::string, std::string> vars;
  EnvLookup lookup() const {
    return [this](const char* name) -> const char* {
      auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  }
};

}  // namespace hsm::repo::s3::test
