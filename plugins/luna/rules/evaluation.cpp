#include "plugins/luna/rules/evaluation.hpp"

#include "plugins/luna/rules/clone_rules.hpp"
#include "plugins/luna/rules/kind_profile.hpp"

namespace hsm::luna::rules {

api::Evaluation evaluate_clone(const api::Endpoint& src, const api::Endpoint& dst,
                               const std::vector<api::ObjectDesc>& objects,
                               const api::ClientDesc& client) {
  api::Evaluation ev;
  ev.pair = evaluate_pair(src, dst, client);
  ev.batch_limit = max_batch(src, dst);  // rule C2
  ev.objects.reserve(objects.size());
  const auto limit = profile(dst.device.kind).max_objects;
  std::uint64_t fits = limit ? (*limit > dst.partition.object_count ? *limit - dst.partition.object_count : 0)
                             : UINT64_MAX;
  for (const auto& o : objects) {
    if (!ev.pair.allowed) {
      ev.objects.push_back(ev.pair);
      continue;
    }
    api::Verdict v = evaluate_object(src, dst, o, *ev.pair.protocol, client);
    if (v.allowed && fits == 0) {
      // rule C1: the target service is full.
      v = api::Verdict{false, ev.pair.protocol, "C1", "CKR_MAX_OBJECT_COUNT_EXCEEDED",
                       dst.address() + " would hold more than " + std::to_string(*limit) +
                           " objects with \"" + o.label + "\"",
                       "clone fewer objects, or delete objects on " + dst.address()};
    } else if (v.allowed && fits != UINT64_MAX) {
      --fits;
    }
    ev.objects.push_back(std::move(v));
  }
  return ev;
}

}  // namespace hsm::luna::rules
