// check SRC DST [--object SEL] | clone SRC DST [--objects SEL] [--dry-run]
// The tool carries opaque messages between two partitions; every verdict
// comes from the source's backend (Backend::evaluate) or the devices.
#include <iostream>

#include "tool/clone_ops.hpp"
#include "tool/progress.hpp"
#include "tool/commands/clone_report.hpp"
#include "tool/context.hpp"

namespace hsm::tool {
namespace {

using api::Error;
using api::Status;

struct Pair {
  Address src_addr, dst_addr;
  std::unique_ptr<api::Partition> src, dst;
  api::Endpoint src_ep, dst_ep;
  api::Backend* judge = nullptr;  // the source's backend
};

api::Result<Pair> open_pair(Context& ctx, const po::variables_map& vm, bool login) {
  Pair p;
  HSM_TRY_ASSIGN(p.src_addr, parse_address(vm["source"].as<std::string>()));
  HSM_TRY_ASSIGN(p.dst_addr, parse_address(vm["target"].as<std::string>()));
  if (p.src_addr.device == p.dst_addr.device && p.src_addr.partition == p.dst_addr.partition)
    return Error::usage("source and target are the same partition");
  HSM_TRY_ASSIGN(p.src, ctx.fleet->open_partition(p.src_addr));
  HSM_TRY_ASSIGN(p.dst, ctx.fleet->open_partition(p.dst_addr));
  if (login) {
    HSM_TRY(ctx.login(*p.src, p.src_addr));
    HSM_TRY(ctx.login(*p.dst, p.dst_addr));
  }
  HSM_TRY_ASSIGN(p.src_ep, p.src->describe());
  HSM_TRY_ASSIGN(p.dst_ep, p.dst->describe());
  HSM_TRY_ASSIGN(std::string kind, ctx.fleet->kind_of(p.src_addr.device));
  p.judge = ctx.plugins.find(kind);
  if (!p.judge) return Error::usage("no plugin for " + kind);
  return p;
}

json object_verdict(const api::ObjectDesc& o, const api::Verdict& v) {
  json j = to_json(v);
  j["handle"] = o.handle;
  j["label"] = o.label;
  j["fingerprint"] = o.fingerprint;
  return j;
}

std::string verdict_line(const api::Verdict& v) {
  if (v.allowed) return "allowed" + (v.protocol ? " by " + std::string(api::to_string(*v.protocol)) : "");
  std::string s = "refused: rule " + v.rule + (v.code.empty() ? "" : " (" + v.code + ")") + ": " + v.message;
  if (!v.fix.empty()) s += "; fix: " + v.fix;
  return s;
}

Status refusal_status(const api::Verdict& v) {
  return Error::refused(v.rule, v.code, v.message, v.fix);
}

Status check(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("check");
  desc.add_options()("objects", po::value<std::string>(), "judge these objects too: a label, #handle, id:HEX, or all")(
      "object", po::value<std::string>(), "the old spelling of --objects (kept as an alias)");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"source", "target"}));
  // One name per idea across commands: --objects, as clone and backup say.
  if (vm.count("object") && vm.count("objects")) return Error::usage("--object is --objects: give it once");
  if (vm.count("object")) {
    vm.insert({"objects", vm["object"]});
  }
  // The pair alone needs no PIN; judging objects lists both partitions'
  // private objects, which needs the login (as in PKCS#11).
  HSM_TRY_ASSIGN(Pair p, open_pair(ctx, vm, vm.count("objects") > 0));
  std::vector<api::ObjectDesc> objects;
  if (vm.count("objects")) {
    HSM_TRY_ASSIGN(objects, p.src->find_objects(vm["objects"].as<std::string>()));
    if (objects.empty())
      return Error::usage("no object matches \"" + vm["objects"].as<std::string>() + "\" in " +
                          p.src_ep.address());
  }
  // Rule C1 (the backend's) counts only objects that would be created: the
  // backend is told which of these the target already holds.
  HSM_TRY_ASSIGN(p.dst_ep.partition.held_fingerprints, held_fingerprints(*p.dst, p.dst_ep, objects));
  const auto& held = p.dst_ep.partition.held_fingerprints;
  api::Evaluation ev = p.judge->evaluate(p.src_ep, p.dst_ep, objects, ctx.client);
  json doc = to_json(ev.pair);
  doc["source"] = p.src_ep.address();
  doc["target"] = p.dst_ep.address();
  doc["batch_limit"] = ev.batch_limit;
  std::size_t refused = 0, present = 0;
  if (vm.count("objects")) {
    json objs = json::array();
    for (std::size_t i = 0; i < objects.size(); ++i) {
      json o = object_verdict(objects[i], ev.objects[i]);
      o["already_present"] = held.count(objects[i].fingerprint) > 0;
      present += held.count(objects[i].fingerprint);
      objs.push_back(std::move(o));
      refused += ev.objects[i].allowed ? 0 : 1;
    }
    doc["objects"] = objs;
    doc["objects_refused"] = refused;
    doc["objects_already_present"] = present;
    if (ev.pair.allowed && refused) doc["allowed"] = false;
  }
  ctx.emit(doc, [&](std::ostream& os) {
    os << p.src_ep.address() << " -> " << p.dst_ep.address() << ": " << verdict_line(ev.pair) << "\n";
    for (const auto& w : ev.pair.warnings) os << "  warning: " << w << "\n";
    if (ev.pair.allowed)
      for (std::size_t i = 0; i < objects.size(); ++i)
        os << "  #" << objects[i].handle << " " << objects[i].label << ": " << verdict_line(ev.objects[i])
           << (held.count(objects[i].fingerprint) ? " (already present)" : "") << "\n";
  });
  if (!ev.pair.allowed) {
    if (ctx.opts.json) return Error{api::ErrorKind::refused, "", "", "", ""};  // already printed
    return refusal_status(ev.pair);
  }
  if (refused) {
    if (ctx.opts.json) return Error{api::ErrorKind::refused, "", "", "", ""};
    for (std::size_t i = 0; i < objects.size(); ++i)
      if (!ev.objects[i].allowed) {
        auto v = ev.objects[i];
        v.message = std::to_string(refused) + " of " + std::to_string(objects.size()) +
                    " object(s) refused; first: #" + std::to_string(objects[i].handle) + " " + v.message;
        return refusal_status(v);
      }
  }
  return {};
}

Status clone(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("clone");
  desc.add_options()("objects", po::value<std::string>()->default_value("all"),
                     "a label, #handle, id:HEX, or all")("dry-run", "judge only; change nothing")(
      "wait", po::value<int>(), "wait up to SECONDS for the target partition's lock");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"source", "target"}));
  CloneRequest req;
  req.wait_seconds = vm.count("wait") ? vm["wait"].as<int>() : 0;
  HSM_TRY_ASSIGN(req.source, parse_address(vm["source"].as<std::string>()));
  HSM_TRY_ASSIGN(req.target, parse_address(vm["target"].as<std::string>()));
  req.selector = vm["objects"].as<std::string>();
  req.dry_run = vm.count("dry-run") > 0;
  Progress bar(std::cerr, ProgressOptions::for_stderr(ctx.opts.quiet || ctx.opts.json));
  req.progress = bar.callback();
  HSM_TRY_ASSIGN(CloneOutcome out, run_clone(ctx, req));
  bar.clear();  // the report starts on its own line
  const json& doc = out.doc;
  ctx.emit(doc, [&](std::ostream& os) { print_clone_report(os, doc, req.dry_run); });
  if (out.refused)
    return Error{api::ErrorKind::refused, "", "", "", ""};  // listed above, with rules and fixes
  return {};
}

}  // namespace

void add_clone_commands(std::vector<Command>& out) {
  out.push_back({"check", "check SRC DST [--objects SELECTOR]", check});
  out.push_back({"clone", "clone SRC DST [--objects SELECTOR] [--dry-run] [--wait S]", clone});
}

}  // namespace hsm::tool
