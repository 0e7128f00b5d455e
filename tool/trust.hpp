// Which manufacturing roots an archive may chain to (man hsm-migrate,
// "TRUST"; formats/archive-format.md, "Certificate chain and trust"). An
// archive is authentic only against a root the user trusts:
//   1. the fleet's own manufacturing root, HOME/factory/root.crt;
//   2. every file in HOME/trust/ (roots of other fleets: one DER or PEM
//      certificate per file, or a text file holding the root's SHA-256 in hex);
//   3. each --trusted-root FILE given to the command (same forms).
// verify, restore, drill, prune and the plan steps that run them all pin to
// this list; a chain to any other root is an integrity failure.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "formats/archive_format.hpp"
#include "plugins/api/status.hpp"

namespace hsm::tool {

struct TrustedRoot {
  formats::Digest sha256{};
  std::string origin;  // "fleet root", "HOME/trust/x.crt", "--trusted-root FILE"
};

// Errors: usage (a file that is neither a certificate nor a fingerprint,
// unreadable), naming the file and the forms it may take.
api::Result<std::vector<TrustedRoot>> trusted_roots(const std::filesystem::path& home,
                                                    const std::vector<std::string>& extra_files);
api::Result<formats::Digest> root_fingerprint_of_file(const std::filesystem::path& file);
std::vector<formats::Digest> digests_of(const std::vector<TrustedRoot>& roots);

}  // namespace hsm::tool
