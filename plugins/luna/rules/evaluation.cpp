#include "plugins/luna/rules/evaluation.hpp"

#include "plugins/luna/rules/clone_rules.hpp"
#include "plugins/luna/rules/config_rules.hpp"

namespace hsm::luna::rules {

api::Evaluation evaluate_clone(const api::Endpoint& src, const api::Endpoint& dst,
                               const std::vector<api::ObjectDesc>& objects,
                               const api::ClientDesc& client) {
  api::Evaluation ev;
  ev.pair = evaluate_pair(src, dst, client);
  ev.batch_limit = max_batch(src, dst);  // rule C2
  ev.objects.reserve(objects.size());
  // rule C1: counts only what would be created; an object the target already
  // holds (dst.partition.held_fingerprints) is not created again.
  CapacityCount room(dst.device, dst.partition);
  for (const auto& o : objects) {
    if (!ev.pair.allowed) {
      ev.objects.push_back(ev.pair);
      continue;
    }
    api::Verdict v = evaluate_object(src, dst, o, *ev.pair.protocol, client);
    if (v.allowed)
      if (auto full = room.take(o); !full.ok()) {
        const api::Error& e = full.error();
        v = api::Verdict{false, ev.pair.protocol, e.rule, e.code, e.message, e.fix, {}, false};
      }
    ev.objects.push_back(std::move(v));
  }
  return ev;
}

}  // namespace hsm::luna::rules
