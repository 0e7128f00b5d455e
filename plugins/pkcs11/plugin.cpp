// The pkcs11 plugin: any PKCS#11 token as an hsm-migrate device (issue 12).
// One token = one device with one partition (T1). A thin layer: the classes
// below stay private to this file and hand every verb to the device layer
// (plugins/pkcs11/device/), which works over the token layer
// (plugins/pkcs11/token/); the rules are plugins/pkcs11/rules/ (T1-T5), asked
// through the emulated Luna's rules so that every pair is judged in one place.
#include <boost/dll/alias.hpp>

#include <ctime>

#include "plugins/api/backend.hpp"
#include "plugins/luna/rules/clone_rules.hpp"
#include "plugins/luna/rules/evaluation.hpp"
#include "plugins/pkcs11/device/connection.hpp"
#include "plugins/pkcs11/device/token_context.hpp"
#include "plugins/pkcs11/device/token_init.hpp"
#include "plugins/pkcs11/device/token_objects.hpp"
#include "plugins/pkcs11/device/token_setup.hpp"
#include "plugins/pkcs11/device/token_verbs.hpp"
#include "plugins/pkcs11/token/objects.hpp"

namespace hsm::p11::plugin {
namespace {

using api::Error;
using api::Result;
using api::Status;

Error not_for_tokens(std::string_view what) {
  return Error::usage(std::string(what) + " is a Luna verb: a PKCS#11 token has none");
}

class TokenPartition final : public api::Partition {
 public:
  explicit TokenPartition(std::shared_ptr<TokenContext> ctx) : ctx_(std::move(ctx)) {}

  Result<api::Endpoint> describe() override { return ctx_->endpoint(); }
  Status login(const api::SecretBytes& pin) override { return ctx_->login(pin); }
  Status reset_pin(const api::SecretBytes&) override {
    return Error::usage(
        "a token's user PIN is reset by its security officer with the token's own tools "
        "(SoftHSM2: C_InitPIN as SO)");
  }
  Status for_each_object(const std::function<bool(const api::ObjectDesc&)>& visit) override {
    return plugin::for_each_object(*ctx_, visit);
  }
  Result<std::vector<api::ObjectDesc>> find_objects(std::string_view selector) override {
    return plugin::find_objects(*ctx_, selector);
  }
  Result<api::KeyGenResult> generate_keys(const api::KeyGenRequest& req) override {
    return plugin::generate_keys(*ctx_, req);
  }
  Status set_policy(int, int) override { return not_for_tokens("partition policy"); }
  Status domain_add(const api::DomainSecret& domain, bool primary) override {
    HSM_TRY_ASSIGN(Session * s, ctx_->logged_in_session());
    ctx_->forget_keks();
    HSM_TRY(add_domain(*s, ctx_->reg(), domain, primary));  // rule T4
    return ctx_->save();
  }
  Status domain_label(std::string_view label, std::string_view new_label, bool primary) override {
    HSM_TRY(ctx_->logged_in_session());
    HSM_TRY(relabel_domain(ctx_->reg(), label, new_label, primary));
    return ctx_->save();
  }
  Status domain_delete(std::string_view label) override {
    HSM_TRY_ASSIGN(Session * s, ctx_->logged_in_session());
    ctx_->forget_keks();
    HSM_TRY(delete_domain(*s, ctx_->reg(), label));
    return ctx_->save();
  }
  Status set_suite(std::string_view, bool) override {
    return not_for_tokens("partition suites (CPv4)");
  }
  Result<api::Bytes> sign(std::uint64_t h, const api::Bytes& data) override {
    return plugin::sign(*ctx_, h, data);
  }
  Result<bool> verify(std::uint64_t h, const api::Bytes& data, const api::Bytes& sig) override {
    return plugin::verify(*ctx_, h, data, sig);
  }
  Result<api::Bytes> encrypt(std::uint64_t h, const api::Bytes& pt) override {
    return plugin::encrypt(*ctx_, h, pt);
  }
  Result<api::Bytes> decrypt(std::uint64_t h, const api::Bytes& ct) override {
    return plugin::decrypt(*ctx_, h, ct);
  }

  Result<api::CloneOffer> clone_offer(const api::Endpoint& source,
                                      const api::ClientDesc& client) override {
    return plugin::clone_offer(*ctx_, offer_, source, client);
  }
  Result<api::CloneOutResult> clone_out(const api::CloneOffer& offer, const api::Endpoint& target,
                                        const std::vector<std::uint64_t>& handles,
                                        const api::ClientDesc& client) override {
    return plugin::clone_out(*ctx_, offer, target, handles, client);
  }
  using api::Partition::clone_in;
  Result<api::CloneInResult> clone_in(const api::Endpoint& source,
                                      const api::CloneMessages& messages,
                                      const api::ClientDesc& client,
                                      api::CloneInMode mode) override {
    return plugin::clone_in(*ctx_, offer_, source, messages, client, mode);
  }

  Result<api::ArchiveBegin> backup_begin(const api::ArchiveBeginRequest& request) override {
    return plugin::backup_begin(*ctx_, backup_, request);
  }
  Result<std::uint64_t> backup_seal(std::string_view selector, const api::ArchiveAdFor& ad_for,
                                    const api::ArchiveSink& sink) override {
    return plugin::backup_seal(*ctx_, backup_, selector, ad_for, sink);
  }
  Result<api::ArchiveSeal> backup_finish(const api::ArchiveFinish& finish) override {
    return plugin::backup_finish(*ctx_, backup_, finish);
  }
  std::vector<api::ArchiveObjectReport> backup_refused() const override { return backup_.refused; }
  Status restore_begin(const api::ArchiveSource& source) override {
    return plugin::restore_begin(*ctx_, restore_, source);
  }
  Result<api::ArchiveRestoreCounts> restore_blobs(const api::ArchiveBlobSource& blobs,
                                                  const api::ArchiveRestoreOptions& options,
                                                  const api::ArchiveReport& report) override {
    return plugin::restore_blobs(*ctx_, restore_, blobs, options, report);
  }

 private:
  std::shared_ptr<TokenContext> ctx_;
  BackupWork backup_;
  RestoreWork restore_;
  std::optional<CloneOfferState> offer_;
};

class TokenDevice final : public api::Device {
 public:
  explicit TokenDevice(std::shared_ptr<TokenContext> ctx) : ctx_(std::move(ctx)) {}

  Result<api::DeviceDesc> describe() override { return ctx_->device_desc(); }
  Result<std::vector<std::string>> partition_names() override {
    return std::vector{ctx_->reg().partition};
  }
  Result<std::unique_ptr<api::Partition>> open_partition(std::string_view name) override {
    if (name != ctx_->reg().partition)
      return Error::usage("device " + ctx_->reg().device + " is one PKCS#11 token, partition \"" +
                          ctx_->reg().partition + "\"; it has no partition \"" + std::string(name) +
                          "\" (T1)");
    return std::unique_ptr<api::Partition>(std::make_unique<TokenPartition>(ctx_));
  }
  Result<std::unique_ptr<api::Partition>> create_partition(
      const api::PartitionCreateRequest&) override {
    return Error::usage(
        "a PKCS#11 token is one partition (T1)",
        "register another token with `hsm-migrate device add NAME --kind pkcs11 ...`");
  }
  Status upgrade(const api::Version&) override {
    return not_for_tokens("device upgrade (firmware)");
  }
  Status enable_fm() override { return not_for_tokens("device enable-fm"); }
  Status set_clock_skew(std::int64_t) override { return not_for_tokens("device clock"); }
  Status sync_clock() override { return not_for_tokens("device clock"); }
  Status set_hsm_policy(int, int) override { return not_for_tokens("device policy"); }

 private:
  std::shared_ptr<TokenContext> ctx_;
};

std::string option(const api::Attributes& opts, std::string_view name) {
  for (const auto& [k, v] : opts)
    if (k == name) return v;
  return "";
}

// `device add`: finds the token (T1), logs in, probes what it can move (T3),
// makes and certifies its identity key, and records it all (never the PIN).
Result<Registration> register_token(const std::filesystem::path& dir,
                                    const api::DeviceCreateRequest& req) {
  Registration r;
  r.device = req.name;
  r.module = option(req.options, "module");
  if (r.module.empty())
    return Error::usage(
        "a PKCS#11 token is registered, not created",
        "`hsm-migrate device add " + req.name + " --kind pkcs11 --module PATH --token LABEL`");
  for (const auto& [k, v] : req.options)
    if (k == "module-env") {
      const auto eq = v.find('=');
      if (eq == std::string::npos || eq == 0)
        return Error::usage("--module-env takes NAME=VALUE, not \"" + v + "\"");
      r.module_env.emplace_back(v.substr(0, eq), v.substr(eq + 1));
    }
  // A plan's own software token (token_init.hpp): its folder, then the token.
  if (const std::string folder = option(req.options, "softhsm2-folder"); !folder.empty())
    HSM_TRY(prepare_softhsm2_folder(folder, r.module_env));
  HSM_TRY_ASSIGN(std::shared_ptr<Module> module, load_module(r.module, r.module_env));
  const std::string label = option(req.options, "token"), slot = option(req.options, "slot");
  if (label.empty() == slot.empty())
    return Error::usage("name the token by --token LABEL or --slot N (one of them)");
  std::string serial = option(req.options, "serial");
  if (option(req.options, "init-token") == "yes") {
    if (label.empty()) return Error::usage("a token is initialised by its label, not a slot");
    HSM_TRY_ASSIGN(std::string made, ensure_token(*module, label, req.credential));
    if (!made.empty()) serial = made;
  }
  std::optional<Token> token;
  if (!label.empty()) {
    HSM_TRY_ASSIGN(Token t, module->find_token(label, serial));
    token.emplace(std::move(t));
  } else {
    // A slot id is valid now only: the token is recorded by label and serial (T1).
    HSM_TRY_ASSIGN(auto all, module->tokens());
    for (const auto& t : all)
      if (std::to_string(t.slot) == slot && t.initialized()) token.emplace(module, t);
    if (!token)
      return Error::usage("PKCS#11 module " + r.module + " has no initialised token in slot " +
                          slot);
  }
  r.token_label = token->info().label;
  r.token_serial = token->info().serial;
  r.partition = option(req.options, "partition");
  if (r.partition.empty()) r.partition = r.token_label;
  if (r.partition.empty() || r.partition.find('/') != std::string::npos ||
      r.partition.find_first_of(" \t\r\n") != std::string::npos || !is_utf8(bytes_of(r.partition)))
    return Error::usage(
        "the token label \"" + printable(bytes_of(r.token_label)) +
            "\" cannot name a partition (no '/', spaces or bytes that are not UTF-8)",
        "give the partition a name with --partition NAME");
  if (req.credential.empty()) return Error::usage("the token's user PIN is needed to register it");
  HSM_TRY_ASSIGN(Session s, Session::open(*token, true));
  HSM_TRY(login_user(s, req.credential));
  HSM_TRY_ASSIGN(r.transport, probe_capabilities(s));  // rule T3, by trying
  HSM_TRY(create_identity(s, r, req.factory_dir, option(req.options, "identity-key")));
  r.registered_at = static_cast<std::int64_t>(std::time(nullptr));
  if (auto st = save_registration(dir, r); !st.ok()) {
    ObjectFilter f;
    f.id = r.identity_id;
    if (auto made = p11::find_objects(s, f); made.ok())
      for (CK_OBJECT_HANDLE h : *made) (void)destroy_object(s, h);  // nothing half-made stays
    return st.error();
  }
  return r;
}

class TokenBackend final : public api::Backend {
 public:
  std::string_view kind() const override { return "pkcs11"; }
  std::string_view version() const override { return "0.1.0"; }
  std::string_view summary() const override {
    return "PKCS#11 tokens (SoftHSM2, vendor modules): one token = one partition; KWP with Luna "
           "7.8.0";
  }
  Result<std::unique_ptr<api::Device>> create_device(const std::filesystem::path& dir,
                                                     const api::DeviceCreateRequest& req) override {
    HSM_TRY_ASSIGN(Registration r, register_token(dir, req));
    return std::unique_ptr<api::Device>(
        std::make_unique<TokenDevice>(std::make_shared<TokenContext>(dir, std::move(r))));
  }
  Result<std::unique_ptr<api::Device>> open_device(const std::filesystem::path& dir) override {
    HSM_TRY_ASSIGN(Registration r, load_registration(dir));
    return std::unique_ptr<api::Device>(
        std::make_unique<TokenDevice>(std::make_shared<TokenContext>(dir, std::move(r))));
  }
  // Every pair in one place: the emulated Luna's rules, which hand the T
  // rules (plugins/pkcs11/rules) whatever involves a token.
  api::Evaluation evaluate(const api::Endpoint& source, const api::Endpoint& target,
                           const std::vector<api::ObjectDesc>& objects,
                           const api::ClientDesc& client) const override {
    return luna::rules::evaluate_clone(source, target, objects, client);
  }
  std::vector<api::Verdict> check_ha_group(const api::HaGroup& group,
                                           const api::ClientDesc&) const override {
    api::Verdict v;
    v.allowed = false;
    v.rule = "T1";
    v.code = "CKR_OPERATION_NOT_ALLOWED";
    v.message = "HA group " + group.name +
                ": a PKCS#11 token is one device with one partition and no Luna HA "
                "replication; it cannot be a member";
    v.fix = "keep tokens out of HA groups; copy keys to them with clone or restore";
    return {v};
  }
};

api::Backend& backend() {
  static TokenBackend b;
  return b;
}

}  // namespace
}  // namespace hsm::p11::plugin

extern "C" BOOST_SYMBOL_EXPORT const std::uint32_t hsm_migrate_abi_version = hsm::api::kAbiVersion;
namespace {
hsm::api::Backend& hsm_plugin_entry() {
  return hsm::p11::plugin::backend();
}
}  // namespace
BOOST_DLL_ALIAS(hsm_plugin_entry, hsm_migrate_backend)
