// A whole clone judged by the rules: pair (clone_rules evaluate_pair), each
// object (evaluate_object), then the target's capacity (C1, counting only
// objects that would be created: see CapacityCount and
// PartitionDesc::held_fingerprints) and the batch size (C2). The one
// function behind Backend::evaluate, `check`, `clone` and `plan check`.
#pragma once

#include <vector>

#include "plugins/api/types.hpp"

namespace hsm::luna::rules {

api::Evaluation evaluate_clone(const api::Endpoint& src, const api::Endpoint& dst,
                               const std::vector<api::ObjectDesc>& objects,
                               const api::ClientDesc& client);

}  // namespace hsm::luna::rules
