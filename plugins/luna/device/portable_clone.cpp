// KWP clones between an emulated Luna partition and a PKCS#11 token
// (issue 12 §5), through the usual middle-man flow: the target offers, the
// source seals, the target opens. partition_cloning.cpp hands over here
// when the pair's protocol (rules::evaluate_pair) is KWP.
//
//   offer    "PKO1": the target's name, a fresh nonce, its domains (T4)
//   session  "PKS1" per batch: the chosen domain, KWP(D, S), KWP(D, W), the source
//   objects  nonce || AES-GCM(S, clone_aad(offer, session, index), record)
//
// The domain key D is an input of every message (S and W unwrap under it
// only), so a party without the domain can neither produce nor open one.
// The target keeps its offer in memory and refuses a session it has seen
// (replay), or one sealed for another offer (the AAD binds the offer).
#include "plugins/api/crash_point.hpp"
#include "plugins/luna/crypto/crypto.hpp"
#include "plugins/luna/device/luna_partition.hpp"
#include "plugins/luna/rules/clone_rules.hpp"

namespace hsm::luna {

using api::Bytes;
using api::Error;
using api::Result;

Result<api::CloneOffer> LunaPartition::clone_offer_kwp(const api::Endpoint& me) {
  portable::Offer o;
  o.target = me.device.name;
  o.nonce = crypto::random_bytes(32);
  for (const auto& d : me.partition.domains) o.domains.push_back(d.fingerprint);
  api::CloneOffer offer;
  offer.accepts = {api::Protocol::kwp};
  offer.blob = portable::encode_offer(o);
  kwp_offer_ = portable::CloneTarget{offer.blob, {}};
  HSM_TRY(core_->audit("clone offer KWP for " + name_));
  return offer;
}

Result<api::CloneOutResult> LunaPartition::clone_out_kwp(const api::Endpoint& me, const api::CloneOffer& offer,
                                                         const api::Endpoint& target,
                                                         const std::vector<std::uint64_t>& handles,
                                                         const api::ClientDesc& client) {
  HSM_TRY_ASSIGN(portable::Offer info, portable::decode_offer(offer.blob));
  if (info.target != target.device.name)
    return Error::integrity("the KWP offer names " + info.target + ", not " + target.device.name);
  // rule T4: a domain both hold, and one the target itself offered.
  const auto fp = rules::common_domain(me, target, api::Protocol::kwp);
  if (!fp || std::find(info.domains.begin(), info.domains.end(), *fp) == info.domains.end())
    return Error::refused("T4", "CKR_CERTIFICATE_INVALID",
                          me.address() + " and " + target.address() + " share no cloning domain");
  HSM_TRY_ASSIGN(std::vector<cloning::DomainKey> domains, domain_keys());
  const cloning::DomainKey* d = nullptr;
  for (const auto& k : domains)
    if (k.fingerprint == *fp) d = &k;
  if (!d) return Error::refused("T4", "CKR_CERTIFICATE_INVALID", me.address() + " does not hold domain " + fp->substr(0, 16));

  portable::ArchiveState st{portable::new_keys(), d->key};
  portable::Session session;
  session.domain = *fp;
  HSM_TRY_ASSIGN(session.keys, portable::wrap_keys(d->key, st.keys));
  session.source = me.device.name;
  api::CloneOutResult out;
  out.messages.protocol = api::Protocol::kwp;
  out.messages.session = portable::encode_session(session);
  const auto loader = load_statement();
  for (std::uint64_t h : handles) {
    HSM_TRY_ASSIGN(StoredObject o, load(*loader, h));
    api::Verdict v = rules::evaluate_object(me, target, o.desc, api::Protocol::kwp, client);
    if (!v.allowed) {
      out.refused.push_back({o.desc, std::move(v)});
      continue;
    }
    const std::uint64_t index = out.messages.objects.size();
    const Bytes aad = portable::clone_aad(offer.blob, out.messages.session, index);
    cloning::FlatObject f{cloning::FlatKind::object, o.desc, std::move(o.material)};
    HSM_TRY_ASSIGN(Bytes sealed, portable::seal_object(st, f, index + 1, aad));
    out.messages.objects.push_back(std::move(sealed));
    out.sent.push_back(std::move(o.desc));
  }
  if (out.sent.empty()) out.messages.session.clear();
  HSM_TRY(core_->audit("cloned out " + std::to_string(out.sent.size()) + " object(s) by KWP to " +
                       target.address()));
  return out;
}

Result<cloning::Opened> LunaPartition::open_kwp(const std::vector<cloning::DomainKey>& domains,
                                                const api::CloneMessages& messages, const api::Endpoint& source) {
  if (!kwp_offer_)
    return Error::usage("partition " + name_ + " made no KWP clone offer to " + source.address(),
                        "ask the target for an offer (clone_offer) before sending objects");
  HSM_TRY_ASSIGN(portable::Session session, portable::decode_session(messages.session));
  if (session.source != source.device.name)
    return Error::integrity("the KWP session names " + session.source + " as its source, not " + source.device.name);
  const cloning::DomainKey* d = nullptr;
  for (const auto& k : domains)
    if (k.fingerprint == session.domain) d = &k;
  if (!d)  // rule T4
    return Error::refused("T4", "CKR_CERTIFICATE_INVALID",
                          "the KWP session from " + source.address() + " is sealed for domain " +
                              session.domain.substr(0, 16) + ", which " + name_ + " does not hold");
  const Bytes session_hash = crypto::sha256(messages.session);
  if (kwp_offer_->seen_sessions.count(session_hash))
    return Error::integrity("the KWP session from " + source.address() + " was already opened: a replay");
  HSM_TRY_ASSIGN(portable::Keys keys, portable::unwrap_keys(d->key, session.keys));
  cloning::Opened out;
  out.source = session.source;
  out.domain_fingerprint = session.domain;
  for (std::size_t i = 0; i < messages.objects.size(); ++i) {
    const Bytes aad = portable::clone_aad(kwp_offer_->offer_blob, messages.session, i);
    auto f = portable::open_object(keys, aad, messages.objects[i]);
    if (!f.ok())
      return Error::integrity("KWP message " + std::to_string(i) + " from " + source.address() + ": " +
                              f.error().message);
    out.objects.push_back(std::move(*f));
  }
  kwp_offer_->seen_sessions.insert(session_hash);
  return out;
}

}  // namespace hsm::luna
