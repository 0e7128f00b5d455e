// run_clone: the tool as the middle-man of the cloning protocols. Every
// verdict comes from the source's backend (Backend::evaluate) and, again,
// from the two devices themselves.
#include "tool/clone_ops.hpp"

#include <algorithm>
#include <map>
#include <optional>

#include "plugins/api/crash_point.hpp"
#include "tool/lock.hpp"

namespace hsm::tool {

using api::Error;
using api::Result;

namespace {

constexpr std::size_t kProgressBatch = 4096;

json object_verdict(const api::ObjectDesc& o, const api::Verdict& v) {
  json j = to_json(v);
  j["handle"] = o.handle;
  j["label"] = o.label;
  j["fingerprint"] = o.fingerprint;
  return j;
}

// One batch: source seals for the current offer, target opens. On rule U1
// (the session expired, on either side) a new offer is asked for and the
// batch sealed again, once.
Result<std::pair<api::CloneOutResult, api::CloneInResult>> clone_batch(
    api::Partition& src, api::Partition& dst, const api::Endpoint& src_ep, const api::Endpoint& dst_ep,
    api::CloneOffer& offer, const std::vector<std::uint64_t>& batch, const api::ClientDesc& client,
    api::CloneInMode mode) {
  for (int attempt = 0;; ++attempt) {
    auto out = src.clone_out(offer, dst_ep, batch, client);
    if (out.ok() && out->messages.objects.empty())
      return std::pair{std::move(*out), api::CloneInResult{}};
    Result<api::CloneInResult> in = out.ok() ? dst.clone_in(src_ep, out->messages, client, mode)
                                             : Result<api::CloneInResult>(out.error());
    if (in.ok()) return std::pair{std::move(*out), std::move(*in)};
    if (in.error().rule != "U1" || attempt > 0) return in.error();
    HSM_TRY_ASSIGN(offer, dst.clone_offer(src_ep, client));  // rule U1: renegotiate
  }
}

}  // namespace

Result<std::set<std::string>> held_fingerprints(api::Partition& target, const api::Endpoint& target_ep,
                                                const std::vector<api::ObjectDesc>& objects) {
  std::set<std::string> wanted, held;
  for (const auto& o : objects)
    if (!o.fingerprint.empty()) wanted.insert(o.fingerprint);
  if (wanted.empty() || target_ep.partition.object_count == 0) return held;
  HSM_TRY(target.for_each_object([&](const api::ObjectDesc& o) {
    if (wanted.count(o.fingerprint)) held.insert(o.fingerprint);
    return held.size() < wanted.size();  // stop once every one is found
  }));
  return held;
}

Result<CloneOutcome> run_clone(Context& ctx, const CloneRequest& req, const CloneBatchHook& hook) {
  if (req.source.device == req.target.device && req.source.partition == req.target.partition)
    return Error::usage("source and target are the same partition");
  // One writer per target: two clones into one partition would otherwise
  // both find an object absent and both create it. (The device also decides
  // "already present" inside its write transaction.) A dry run writes nothing.
  std::optional<PartitionLock> lock;
  if (!req.dry_run) {
    auto l = PartitionLock::acquire(ctx.fleet->home(), req.target.device, req.target.partition, "clone",
                                    req.wait_seconds);
    if (!l.ok()) return l.error();
    lock.emplace(std::move(*l));
  }
  HSM_TRY_ASSIGN(auto src, ctx.fleet->open_partition(req.source));
  HSM_TRY_ASSIGN(auto dst, ctx.fleet->open_partition(req.target));
  // Even a dry run lists both partitions' objects: private objects need the
  // login (as in PKCS#11).
  HSM_TRY(ctx.login(*src, req.source));
  HSM_TRY(ctx.login(*dst, req.target));
  HSM_TRY_ASSIGN(api::Endpoint src_ep, src->describe());
  HSM_TRY_ASSIGN(api::Endpoint dst_ep, dst->describe());
  HSM_TRY_ASSIGN(std::string kind, ctx.fleet->kind_of(req.source.device));
  const api::Backend* judge = ctx.plugins.find(kind);
  if (!judge) return Error::usage("no plugin for " + kind);

  HSM_TRY_ASSIGN(auto objects, src->find_objects(req.selector));
  if (objects.empty() && req.selector != "all")
    return Error::usage("no object matches \"" + req.selector + "\" in " + src_ep.address(),
                        "see `hsm-migrate object list " + src_ep.address() + "`");
  // The target as the clone will find it: emptied first by a replace (X5),
  // else holding what it holds. Rule C1 (the backend's) counts only objects
  // that would be created, so the backend is told which are already there.
  api::Endpoint judged = dst_ep;
  if (req.replace) {
    judged.partition.object_count = 0;
  } else {
    HSM_TRY_ASSIGN(judged.partition.held_fingerprints, held_fingerprints(*dst, dst_ep, objects));
  }
  api::Evaluation ev = judge->evaluate(src_ep, judged, objects, ctx.client);
  if (!ev.pair.allowed) return Error::refused(ev.pair.rule, ev.pair.code, ev.pair.message, ev.pair.fix);

  CloneOutcome result;
  json refused = json::array(), cloned = json::array(), present = json::array(), planned = json::array();
  json would_skip = json::array();  // dry run: already present on the target
  std::vector<std::uint64_t> todo;
  std::map<std::string, const api::ObjectDesc*> by_fingerprint;  // to name source objects
  for (std::size_t i = 0; i < objects.size(); ++i) {
    by_fingerprint.emplace(objects[i].fingerprint, &objects[i]);
    if (ev.objects[i].allowed) {
      // Already present objects are sent too: the target decides "already
      // present" again inside its write transaction, and reports them.
      todo.push_back(objects[i].handle);
      if (judged.partition.held_fingerprints.count(objects[i].fingerprint)) would_skip.push_back(to_json(objects[i]));
      else planned.push_back(object_verdict(objects[i], ev.objects[i]));
    } else {
      refused.push_back(object_verdict(objects[i], ev.objects[i]));
    }
  }
  std::size_t batches = 0;
  std::uint64_t deleted = 0;
  // rule X4 (model): a replace is checked whole first; a refusal anywhere
  // leaves the target as it was, never emptied or half restored.
  const bool replace_blocked = req.replace && !refused.empty();
  bool replace_pending = req.replace;
  if (!req.dry_run && !todo.empty() && !replace_blocked) {
    HSM_TRY_ASSIGN(api::CloneOffer offer, dst->clone_offer(src_ep, ctx.client));
    // At most batch_limit objects per operation (rule C2), and a few
    // thousand when the rules set no limit: each batch is its own
    // transaction, reported as it lands (progress, the plan's journal).
    const std::size_t step = std::max<std::size_t>(1, std::min<std::size_t>(ev.batch_limit, kProgressBatch));
    std::uint64_t done_objects = 0;
    for (std::size_t at = 0; at < todo.size(); at += step) {
      const auto first = todo.begin() + static_cast<std::ptrdiff_t>(at);
      const auto last = todo.begin() + static_cast<std::ptrdiff_t>(std::min(at + step, todo.size()));
      std::vector<std::uint64_t> batch(first, last);
      const auto mode = replace_pending ? api::CloneInMode::replace_all : api::CloneInMode::add;
      HSM_TRY_ASSIGN(auto done, clone_batch(*src, *dst, src_ep, dst_ep, offer, batch, ctx.client, mode));
      auto& [out, in] = done;
      for (const auto& r : out.refused) refused.push_back(object_verdict(r.object, r.verdict));
      if (out.messages.objects.empty()) continue;
      ++batches;
      replace_pending = false;  // the first batch that reached the target deleted
      deleted += in.deleted;
      for (const auto& o : in.created) cloned.push_back(to_json(o));
      for (const auto& o : in.already_present) present.push_back(to_json(o));
      for (const auto& r : in.refused) {
        // The target does not know the source's handle: name the source object.
        auto it = by_fingerprint.find(r.object.fingerprint);
        refused.push_back(object_verdict(it != by_fingerprint.end() ? *it->second : r.object, r.verdict));
      }
      if (hook) HSM_TRY(hook(batches - 1, in.created.size(), in.already_present.size()));
      done_objects += batch.size();
      if (req.progress) req.progress("clone", done_objects, todo.size());
    }
  }
  if (!req.dry_run) api::crash_point("after-write");
  result.doc = json{{"source", src_ep.address()},
                    {"target", dst_ep.address()},
                    {"protocol", std::string(api::to_string(*ev.pair.protocol))},
                    {"dry_run", req.dry_run},
                    {"batches", batches},
                    {"batch_limit", ev.batch_limit}};
  if (!ev.pair.warnings.empty()) result.doc["warnings"] = ev.pair.warnings;
  if (req.replace) result.doc["mode"] = "replace";
  if (lock && !lock->took_over().empty()) result.doc["lock_taken_over"] = lock->took_over();
  if (replace_blocked)
    result.doc["replace_blocked"] = "rule X4: with replace every object must be restorable; " +
                                    std::to_string(refused.size()) + " would be refused, so nothing was deleted" +
                                    (req.dry_run ? " (dry run)" : " or copied");
  if (req.dry_run) {
    result.doc["would_clone"] = replace_blocked ? json::array() : planned;
    result.doc["already_present"] = would_skip;
    if (req.replace) result.doc["would_delete"] = replace_blocked ? 0 : dst_ep.partition.object_count;
  } else {
    result.doc["cloned"] = cloned;
    result.doc["already_present"] = present;
    if (req.replace) result.doc["deleted"] = deleted;
  }
  result.refused = refused.size();
  result.doc["refused"] = refused;
  return result;
}

}  // namespace hsm::tool
