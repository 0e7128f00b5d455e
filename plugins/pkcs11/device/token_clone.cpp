// KWP clones with a token on either side (issue 12 §5; portable_clone.cpp
// is the emulated Luna's side of the same messages): streamed and batched
// by the tool, rerunnable without duplicates, all or nothing per batch.
//
//   target  clone_offer  judges the pair, offers a fresh nonce and its domains
//   source  clone_out    judges each object (T2, T3, T5), wraps S and W of
//                        this batch under the common domain's KEK (T4), seals
//                        each record on the token (AAD: offer, session, index)
//   target  clone_in     unwraps S and W under its KEK, opens and judges every
//                        message first, then creates what it does not hold
//                        (content fingerprints computed on the token), and
//                        destroys what it created if anything fails
#include <algorithm>

#include "plugins/luna/crypto/crypto.hpp"
#include "plugins/luna/rules/clone_rules.hpp"
#include "plugins/pkcs11/device/token_objects.hpp"
#include "plugins/pkcs11/device/token_setup.hpp"
#include "plugins/pkcs11/device/token_verbs.hpp"
#include "plugins/pkcs11/token/error.hpp"

namespace hsm::p11::plugin {

using api::Bytes;
using api::Error;
using api::Result;

namespace {

Error verdict_error(const api::Verdict& v) { return Error::refused(v.rule, v.code, v.message, v.fix); }

}  // namespace

Result<api::CloneOffer> clone_offer(TokenContext& ctx, std::optional<CloneOfferState>& state,
                                    const api::Endpoint& source, const api::ClientDesc& client) {
  HSM_TRY_ASSIGN(Session * s, ctx.logged_in_session());
  HSM_TRY_ASSIGN(api::Endpoint me, ctx.endpoint());
  const api::Verdict pair = luna::rules::evaluate_pair(source, me, client);
  if (!pair.allowed) return verdict_error(pair);
  portable::Offer o;
  o.target = me.device.name;
  HSM_TRY_ASSIGN(o.nonce, s->random(32));
  for (const auto& d : me.partition.domains) o.domains.push_back(d.fingerprint);
  api::CloneOffer offer;
  offer.accepts = {api::Protocol::kwp};
  offer.blob = portable::encode_offer(o);
  state = CloneOfferState{offer.blob, {}, {}};
  return offer;
}

Result<api::CloneOutResult> clone_out(TokenContext& ctx, const api::CloneOffer& offer, const api::Endpoint& target,
                                      const std::vector<std::uint64_t>& handles, const api::ClientDesc& client) {
  HSM_TRY_ASSIGN(Session * s, ctx.logged_in_session());
  HSM_TRY_ASSIGN(api::Endpoint me, ctx.endpoint());
  const api::Verdict pair = luna::rules::evaluate_pair(me, target, client);
  if (!pair.allowed) return verdict_error(pair);
  HSM_TRY_ASSIGN(portable::Offer info, portable::decode_offer(offer.blob));
  if (info.target != target.device.name)
    return Error::integrity("the KWP offer names " + info.target + ", not " + target.device.name);
  // rule T4: a domain both hold, that the target itself offered.
  const auto fp = luna::rules::common_domain(me, target, api::Protocol::kwp);
  if (!fp || std::find(info.domains.begin(), info.domains.end(), *fp) == info.domains.end())
    return Error::refused("T4", "CKR_CERTIFICATE_INVALID", me.address() + " and " + target.address() +
                                                               " share no cloning domain");
  HSM_TRY_ASSIGN(CK_OBJECT_HANDLE kek, find_kek(*s, *fp));

  api::CloneOutResult out;
  out.messages.protocol = api::Protocol::kwp;
  SessionObjects keep(*s);
  HSM_TRY_ASSIGN(TokenKeys keys, generate_keys(*s, keep));
  portable::Session session;
  session.domain = *fp;
  HSM_TRY_ASSIGN(session.keys, wrap_keys(*s, kek, keys));
  session.source = me.device.name;
  out.messages.session = portable::encode_session(session);
  HSM_TRY_ASSIGN(PublicKeyIndex pubs, index_public_keys(*s));
  for (std::uint64_t h : handles) {
    HSM_TRY_ASSIGN(ObjectInfo o, read_object(*s, static_cast<CK_OBJECT_HANDLE>(h)));
    if (is_own_object(o)) return Error::usage("object #" + std::to_string(h) + " is hsm-migrate's own; it is never cloned");
    api::ObjectDesc desc = describe_object(o);
    Bytes spki;
    if (o.cls != CKO_SECRET_KEY) {
      HSM_TRY_ASSIGN(spki, spki_of(*s, o, &pubs));
    }
    HSM_TRY_ASSIGN(desc.fingerprint, fingerprint_of(*s, o, kek, spki));
    // The source judges each object itself (T2, T3, T5) before the token wraps it.
    api::Verdict v = luna::rules::evaluate_object(me, target, desc, api::Protocol::kwp, client);
    if (!v.allowed) {
      out.refused.push_back({std::move(desc), std::move(v)});
      continue;
    }
    const std::uint64_t index = out.messages.objects.size();
    HSM_TRY_ASSIGN(portable::Record rec, record_of(*s, o, keys.wrap, index + 1, spki, desc.fingerprint));
    const Bytes aad = portable::clone_aad(offer.blob, out.messages.session, index);
    HSM_TRY_ASSIGN(Bytes sealed, seal(*s, keys.seal, aad, portable::encode_record(rec)));
    out.messages.objects.push_back(std::move(sealed));
    out.sent.push_back(std::move(desc));
  }
  if (out.sent.empty()) out.messages.session.clear();
  return out;
}

Result<api::CloneInResult> clone_in(TokenContext& ctx, std::optional<CloneOfferState>& state,
                                    const api::Endpoint& source, const api::CloneMessages& messages,
                                    const api::ClientDesc& client, api::CloneInMode mode) {
  HSM_TRY_ASSIGN(Session * s, ctx.logged_in_session());
  if (!state || messages.protocol != api::Protocol::kwp)
    return Error::usage(ctx.address() + " made no KWP clone offer to " + source.address(),
                        "ask the target for an offer (clone_offer) before sending objects");
  HSM_TRY_ASSIGN(api::Endpoint me, ctx.endpoint());
  const bool replace = mode == api::CloneInMode::replace_all;
  if (replace) me.partition.object_count = 0;
  const api::Verdict pair = luna::rules::evaluate_pair(source, me, client);
  if (!pair.allowed) return verdict_error(pair);
  HSM_TRY_ASSIGN(portable::Session session, portable::decode_session(messages.session));
  if (session.source != source.device.name)
    return Error::integrity("the KWP session names " + session.source + " as its source, not " + source.device.name);
  auto kek = find_kek(*s, session.domain);
  if (!kek.ok())  // rule T4
    return Error::refused("T4", "CKR_CERTIFICATE_INVALID",
                          "the KWP session from " + source.address() + " is sealed for domain " +
                              session.domain.substr(0, 16) + ", which " + ctx.address() + " does not hold",
                          "add that domain with `hsm-migrate partition domain add " + ctx.address() + "`");
  const Bytes session_hash = luna::crypto::sha256(messages.session);
  if (state->seen_sessions.count(session_hash))
    return Error::integrity("the KWP session from " + source.address() + " was already opened: a replay");
  SessionObjects keep(*s);
  HSM_TRY_ASSIGN(TokenKeys keys, unwrap_keys(*s, *kek, session.keys, keep));

  // Every message opened and judged before anything is created.
  struct Item {
    portable::Record record;
    api::ObjectDesc desc;
  };
  std::vector<Item> items;
  api::CloneInResult result;
  for (std::size_t i = 0; i < messages.objects.size(); ++i) {
    const Bytes aad = portable::clone_aad(state->offer_blob, messages.session, i);
    auto plain = open(*s, keys.seal, aad, messages.objects[i]);
    if (!plain.ok())
      return Error::integrity("KWP message " + std::to_string(i) + " from " + source.address() + ": " +
                              plain.error().message);
    Item it;
    HSM_TRY_ASSIGN(it.record, portable::decode_record(*plain));
    HSM_TRY_ASSIGN(it.desc, portable::desc_of(it.record));
    api::Verdict v = luna::rules::evaluate_object(source, me, it.desc, api::Protocol::kwp, client);
    if (!v.allowed) {
      result.refused.push_back({it.desc, std::move(v)});
      continue;
    }
    items.push_back(std::move(it));
  }
  state->seen_sessions.insert(session_hash);
  if (replace) {
    HSM_TRY_ASSIGN(result.deleted, delete_user_objects(*s));
    state->held.erase(session.domain);
  }
  auto held_it = state->held.find(session.domain);
  if (held_it == state->held.end()) {
    HSM_TRY_ASSIGN(auto held, held_fingerprints(*s, *kek));
    held_it = state->held.emplace(session.domain, std::move(held)).first;
  }
  std::set<std::string>& held = held_it->second;
  std::vector<CK_OBJECT_HANDLE> created;
  std::vector<std::string> added;
  api::Status st;
  for (auto& it : items) {
    auto fp = record_fingerprint(*s, it.record, keys.wrap, *kek);
    if (!fp.ok()) {
      st = fp.error();
      break;
    }
    it.desc.fingerprint = *fp;
    if (!fp->empty() && held.count(*fp)) {
      result.already_present.push_back(it.desc);
      continue;
    }
    auto h = restore_record(*s, it.record, keys.wrap, true);
    if (!h.ok()) {
      st = h.error();
      break;
    }
    created.push_back(*h);
    if (!fp->empty()) {
      held.insert(*fp);
      added.push_back(*fp);
    }
    it.desc.handle = *h;
    it.desc.travelled.push_back(api::Protocol::kwp);
    result.created.push_back(it.desc);
  }
  if (!st.ok()) {
    // All or nothing per batch: what this batch made goes again.
    for (CK_OBJECT_HANDLE h : created) (void)destroy_object(*s, h);
    for (const auto& fp : added) held.erase(fp);
    Error e = st.error();
    e.message += "; this batch created nothing (" + std::to_string(created.size()) + " object(s) destroyed again)";
    return e;
  }
  return result;
}

}  // namespace hsm::p11::plugin
