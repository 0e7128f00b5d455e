// CPv1 / CPv3 / CPv4 messages (formats and reasoning in protocol.hpp).
#include "plugins/luna/cloning/protocol.hpp"

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>

#include "plugins/luna/cloning/wire.hpp"
#include "plugins/luna/crypto/crypto.hpp"
#include "plugins/luna/crypto/suites.hpp"

namespace hsm::luna::cloning {

using api::Error;
using api::Protocol;

namespace {

// --- wire constants ---
constexpr char kOfferMagic[4] = {'H', 'M', 'C', 'O'};
constexpr char kObjMagic[4] = {'H', 'M', 'C', 'M'};      // CPv1/CPv3 object message
constexpr char kSessionMagic[4] = {'H', 'M', 'C', '4'};  // CPv4 session header
constexpr std::uint16_t kWireVersion = 1;
constexpr std::size_t kHashBytes = 32;
constexpr std::size_t kObjectSessionIdBytes = 16;
constexpr std::size_t kContentKeyBytes = 32;
constexpr std::size_t kMaxListEntries = 16;
constexpr std::size_t kCpv4MsgHeader = 16;  // u64 counter, i64 timestamp
constexpr std::int64_t kMaxLifetimeS = 86400;

constexpr std::string_view kOfferSigCtx = "hsm-migrate clone offer v1";
constexpr std::string_view kSessionSigCtx = "hsm-migrate CPv4 session v1";
constexpr std::string_view kTranscriptCtx = "hsm-migrate CPv4 transcript v1";
constexpr std::string_view kSessionKeyCtx = "hsm-migrate CPv4 session key v1";
constexpr std::string_view kObjectAdCtx = "hsm-migrate CPv1/CPv3 object v1";
constexpr std::string_view kObjectKeyCtx = "hsm-migrate CPv1/CPv3 object key v1";

std::string pname(Protocol p) { return std::string(api::to_string(p)); }

Bytes with_context(std::string_view ctx, const std::uint8_t* p, std::size_t n) {
  Bytes out;
  out.reserve(ctx.size() + 1 + n);
  out.insert(out.end(), ctx.begin(), ctx.end());
  out.push_back(0);
  out.insert(out.end(), p, p + n);
  return out;
}

Error integrity(std::string m, std::string code = {}) {
  Error e = Error::integrity(std::move(m));
  e.code = std::move(code);
  return e;
}

Error clock_refusal(std::string_view who, std::string_view what, std::int64_t delta) {
  return Error::refused("U3", "CKR_CLOCK_NOT_IN_SYNC",
                        std::string(who) + ": " + std::string(what) + " is " +
                            std::to_string(delta < 0 ? -delta : delta) + " s " +
                            (delta < 0 ? "ahead of" : "behind") +
                            " this HSM's clock (CPv4 allows " + std::to_string(kClockToleranceS) +
                            " s)",
                        "sync the HSM clocks (HSM policy 57) and request a new offer");
}

Error expired_refusal(std::string m) {
  return Error::refused("U1", "CKR_SESSION_CLOSED", std::move(m),
                        "request a new offer from the target (renegotiate) and clone again");
}

Error domain_refusal(std::string m) {
  return Error::refused("S1", "CKR_CERTIFICATE_INVALID", std::move(m),
                        "add a common cloning domain to both partitions");
}

const DomainKey* find_domain(const std::vector<DomainKey>& domains, std::string_view fp) {
  for (const auto& d : domains)
    if (d.fingerprint == fp) return &d;
  return nullptr;
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// The certificate's CN must name the device ("NAME", "NAME HOK", "NAME FM-HOK").
Result<bool> cert_names(const Bytes& cert, const std::string& name) {
  HSM_TRY_ASSIGN(std::string cn, crypto::certificate_subject(cert));
  return cn == name || (cn.size() > name.size() && cn.compare(0, name.size(), name) == 0 &&
                        cn[name.size()] == ' ');
}

Result<Bytes> hok_sign(const DeviceIdentity& id, std::string_view ctx, const Bytes& body) {
  crypto::KeyMaterial k;
  k.type = api::KeyType::ed25519;
  k.bits = 256;
  k.curve = "Ed25519";
  k.secret = id.hok_private_der;
  HSM_TRY_ASSIGN(k.public_der, crypto::public_of(id.hok_private_der));
  return crypto::sign(k, with_context(ctx, body.data(), body.size()));
}

// Verifies a peer's HOK certificate against our root, that it names `name`,
// and its signature over ctx || body. Returns the HOK public key.
api::Status verify_hok_signed(const DeviceIdentity& verifier, std::string_view what,
                              const std::string& name, const Bytes& hok_cert, std::string_view ctx,
                              const std::uint8_t* body, std::size_t body_len, const Bytes& sig) {
  auto hok_pub = crypto::verify_certificate(hok_cert, verifier.root_cert_der);
  if (!hok_pub)
    return integrity(std::string(what) + " from " + name +
                         ": its HOK certificate was not issued by this fleet's manufacturing root",
                     "CKR_CERTIFICATE_INVALID");
  auto named = cert_names(hok_cert, name);
  if (!named || !*named)
    return integrity(std::string(what) + ": the HOK certificate does not belong to " + name,
                     "CKR_CERTIFICATE_INVALID");
  auto ok = crypto::verify(api::KeyType::ed25519, *hok_pub, with_context(ctx, body, body_len), sig);
  if (!ok || !*ok)
    return integrity(std::string(what) + " from " + name +
                         ": HOK signature does not verify (forged or tampered)",
                     "CKR_SIGNATURE_INVALID");
  return {};
}

// --- the offer ---

struct ParsedOffer {
  OfferInfo info;
  Bytes hok_cert, twc_cert, eph_pub, nonce, sig;
  const std::uint8_t* body = nullptr;
  std::size_t body_len = 0;
};

std::optional<ParsedOffer> parse_offer(const Bytes& blob) {
  ParsedOffer o;
  wire::Reader r(blob.data(), blob.size());
  if (!r.expect(kOfferMagic, 4) || r.u16() != kWireVersion) return std::nullopt;
  auto proto = api::parse_protocol(r.str());
  if (!r.ok() || !proto) return std::nullopt;
  o.info.protocol = *proto;
  o.info.target = r.str();
  o.hok_cert = r.blob();
  o.twc_cert = r.blob();
  o.eph_pub = r.blob();
  o.nonce = r.fixed<kNonceBytes>();
  o.info.issued = r.i64();
  o.info.expires = r.i64();
  o.info.max_messages = r.u64();
  const std::size_t ns = r.u8();
  if (ns > kMaxListEntries) return std::nullopt;
  for (std::size_t i = 0; i < ns && r.ok(); ++i) o.info.suites.push_back(r.str());
  const std::size_t nd = r.u8();
  if (nd > kMaxListEntries) return std::nullopt;
  for (std::size_t i = 0; i < nd && r.ok(); ++i) o.info.domain_fingerprints.push_back(r.str());
  if (!r.ok()) return std::nullopt;
  o.body = blob.data();
  o.body_len = static_cast<std::size_t>(r.pos() - blob.data());
  o.sig = r.blob();
  if (!r.at_end()) return std::nullopt;
  return o;
}

// verify_offer plus what seal needs.
struct VerifiedOffer {
  OfferInfo info;
  Bytes offer_hash, nonce, twc_pub, twc_cert_hash, eph_pub;
};

Result<VerifiedOffer> verify_offer_full(const DeviceIdentity& verifier, const api::CloneOffer& offer) {
  auto parsed = parse_offer(offer.blob);
  if (!parsed) return integrity("clone offer is malformed, truncated or of an unknown version");
  ParsedOffer& o = *parsed;
  HSM_TRY(verify_hok_signed(verifier, "clone offer", o.info.target, o.hok_cert, kOfferSigCtx, o.body,
                            o.body_len, o.sig));
  const Protocol p = o.info.protocol;
  const std::string what = pname(p) + " offer from " + o.info.target;
  if (o.info.expires <= o.info.issued || o.info.expires - o.info.issued > kMaxLifetimeS ||
      o.info.max_messages == 0)
    return integrity(what + ": nonsensical session lifetime");
  VerifiedOffer v;
  if (p == Protocol::cpv4) {
    if (o.eph_pub.empty() || !o.twc_cert.empty() || o.info.suites.empty())
      return integrity(what + ": not a CPv4 offer");
    // rule U3: more than 5 minutes between the clocks fails.
    const std::int64_t delta = verifier.now - o.info.issued;
    if (delta > kClockToleranceS || delta < -kClockToleranceS)
      return clock_refusal(verifier.name, what + " is stamped at a time that", delta);
    v.eph_pub = std::move(o.eph_pub);
  } else {
    if (o.twc_cert.empty() || !o.eph_pub.empty()) return integrity(what + ": no token wrapping certificate");
    auto twc_pub = crypto::verify_certificate(o.twc_cert, o.hok_cert);
    if (!twc_pub)
      return integrity(what + ": its token wrapping certificate was not issued by its HOK",
                       "CKR_CERTIFICATE_INVALID");
    v.twc_pub = std::move(twc_pub).value();
    v.twc_cert_hash = crypto::sha256(o.twc_cert);
  }
  v.offer_hash = crypto::sha256(offer.blob);
  v.nonce = std::move(o.nonce);
  v.info = std::move(o.info);
  return v;
}

// --- CPv1 / CPv3 objects ---

Bytes object_ad(const Bytes& twc_cert_hash, const std::uint8_t* header, std::size_t n) {
  Bytes ad(kObjectAdCtx.size() + 1 + twc_cert_hash.size() + n);
  std::uint8_t* p = ad.data();
  std::memcpy(p, kObjectAdCtx.data(), kObjectAdCtx.size());
  p += kObjectAdCtx.size() + 1;  // then a zero byte
  if (!twc_cert_hash.empty()) std::memcpy(p, twc_cert_hash.data(), twc_cert_hash.size());
  p += twc_cert_hash.size();
  if (n) std::memcpy(p, header, n);
  return ad;
}

Bytes oaep_label(Protocol p) {
  const std::string l = "hsm-migrate " + pname(p) + " content key";
  return Bytes(l.begin(), l.end());
}

Result<SecretBytes> object_key(const SecretBytes& cek, const SecretBytes& domain_key,
                               const Bytes& offer_nonce, const Bytes& ad) {
  SecretBytes ikm;
  ikm.reserve(cek.size() + domain_key.size());
  ikm.insert(ikm.end(), cek.begin(), cek.end());
  ikm.insert(ikm.end(), domain_key.begin(), domain_key.end());
  const Bytes h = crypto::sha256(ad);
  Bytes info = with_context(kObjectKeyCtx, h.data(), h.size());
  return crypto::hkdf_sha256(ikm, offer_nonce, info, crypto::kAeadKeyBytes);
}

Result<api::CloneMessages> seal_per_object(const DeviceIdentity& source, const VerifiedOffer& v,
                                           const DomainKey& domain,
                                           std::span<const FlatObject> objects) {
  const Protocol p = v.info.protocol;
  const Bytes label = oaep_label(p);
  const std::size_t want_ct = static_cast<std::size_t>(twc_bits_for(p)) / 8;
  api::CloneMessages out;
  out.protocol = p;
  out.objects.reserve(objects.size());
  SecretBytes flat;
  for (std::size_t i = 0; i < objects.size(); ++i) {
    const SecretBytes cek = crypto::random_secret(kContentKeyBytes);
    HSM_TRY_ASSIGN(Bytes wrapped, crypto::rsa_oaep_encrypt(v.twc_pub, cek.data(), cek.size(), label));
    if (wrapped.size() != want_ct)
      return integrity(pname(p) + " offer from " + v.info.target + ": the token wrapping key is RSA-" +
                           std::to_string(wrapped.size() * 8) + ", " + pname(p) + " needs RSA-" +
                           std::to_string(want_ct * 8),
                       "CKR_CERTIFICATE_INVALID");
    Bytes msg;
    wire::Writer<Bytes> w(msg);
    w.raw(reinterpret_cast<const std::uint8_t*>(kObjMagic), 4);
    w.u16(kWireVersion);
    w.str(api::to_string(p));
    w.raw(v.offer_hash);
    w.str(source.name);
    w.str(domain.fingerprint);
    w.u32(static_cast<std::uint32_t>(i));
    w.raw(crypto::random_bytes(kObjectSessionIdBytes));
    w.blob(wrapped);
    const Bytes ad = object_ad(v.twc_cert_hash, msg.data(), msg.size());
    HSM_TRY_ASSIGN(SecretBytes key, object_key(cek, domain.key, v.nonce, ad));
    encode_flat(objects[i], flat);
    w.blob(crypto::aead_seal(key, ad, flat.data(), flat.size()));
    out.objects.push_back(std::move(msg));
  }
  return out;
}

// --- CPv4 ---

Bytes transcript_hash(const std::uint8_t* header_body, std::size_t n) {
  return crypto::sha256(with_context(kTranscriptCtx, header_body, n));
}

Result<crypto::SuiteAead> cpv4_cipher(crypto::Suite suite, const std::string& suite_name,
                                      const SecretBytes& shared, const SecretBytes& domain_key,
                                      const Bytes& target_nonce, const Bytes& source_nonce,
                                      const Bytes& th) {
  SecretBytes ikm;
  ikm.reserve(shared.size() + domain_key.size());
  ikm.insert(ikm.end(), shared.begin(), shared.end());
  ikm.insert(ikm.end(), domain_key.begin(), domain_key.end());
  Bytes salt = target_nonce;
  salt.insert(salt.end(), source_nonce.begin(), source_nonce.end());
  Bytes info(kSessionKeyCtx.begin(), kSessionKeyCtx.end());
  info.push_back(0);
  info.insert(info.end(), th.begin(), th.end());
  info.insert(info.end(), suite_name.begin(), suite_name.end());
  HSM_TRY_ASSIGN(SecretBytes key, crypto::hkdf_sha256(ikm, salt, info, crypto::kSuiteKeyBytes));
  return crypto::SuiteAead::create(suite, key);
}

// AD = th || counter || timestamp; nonce = 0^32 || counter (both little-endian).
struct Cpv4Binding {
  std::uint8_t ad[kHashBytes + 16];
  std::uint8_t nonce[crypto::kSuiteNonceBytes];
  explicit Cpv4Binding(const Bytes& th) {
    std::memcpy(ad, th.data(), kHashBytes);
    std::memset(nonce, 0, sizeof nonce);
  }
  void set(std::uint64_t counter, std::int64_t ts) {
    wire::put_le64(ad + kHashBytes, counter);
    wire::put_le64(ad + kHashBytes + 8, static_cast<std::uint64_t>(ts));
    wire::put_le64(nonce + 4, counter);
  }
};

struct ParsedSession {
  Bytes offer_hash, hok_cert, eph_pub, nonce, sig;
  std::string source, suite, domain;
  std::int64_t time = 0;
  std::uint64_t count = 0;
  const std::uint8_t* body = nullptr;
  std::size_t body_len = 0;
};

std::optional<ParsedSession> parse_session(const Bytes& blob) {
  ParsedSession s;
  wire::Reader r(blob.data(), blob.size());
  if (!r.expect(kSessionMagic, 4) || r.u16() != kWireVersion) return std::nullopt;
  s.offer_hash = r.fixed<kHashBytes>();
  s.source = r.str();
  s.hok_cert = r.blob();
  s.eph_pub = r.blob();
  s.nonce = r.fixed<kNonceBytes>();
  s.time = r.i64();
  s.suite = r.str();
  s.domain = r.str();
  s.count = r.u64();
  if (!r.ok()) return std::nullopt;
  s.body = blob.data();
  s.body_len = static_cast<std::size_t>(r.pos() - blob.data());
  s.sig = r.blob();
  if (!r.at_end()) return std::nullopt;
  return s;
}

Result<api::CloneMessages> seal_cpv4(const DeviceIdentity& source, const VerifiedOffer& v,
                                     const DomainKey& domain, const std::string& suite_name,
                                     std::span<const FlatObject> objects) {
  const auto suite = crypto::parse_suite(suite_name);
  if (!suite || !contains(v.info.suites, suite_name))
    return Error::refused("U2", "CKR_MECHANISM_INVALID",
                          "CPv4 suite \"" + suite_name + "\" is not enabled on " + v.info.target,
                          "choose a suite both partitions enable, or renegotiate");
  HSM_TRY_ASSIGN(crypto::KeyMaterial eph, crypto::generate_x25519());
  const Bytes nonce = crypto::random_bytes(kNonceBytes);
  const std::int64_t now = source.now;

  api::CloneMessages out;
  out.protocol = Protocol::cpv4;
  wire::Writer<Bytes> w(out.session);
  w.raw(reinterpret_cast<const std::uint8_t*>(kSessionMagic), 4);
  w.u16(kWireVersion);
  w.raw(v.offer_hash);
  w.str(source.name);
  w.blob(source.hok_cert_der);
  w.blob(eph.public_der);
  w.raw(nonce);
  w.i64(now);
  w.str(suite_name);
  w.str(domain.fingerprint);
  w.u64(objects.size());
  const Bytes th = transcript_hash(out.session.data(), out.session.size());
  HSM_TRY_ASSIGN(Bytes sig, hok_sign(source, kSessionSigCtx, out.session));
  w.blob(sig);

  HSM_TRY_ASSIGN(SecretBytes shared, crypto::x25519(eph.secret, v.eph_pub));
  HSM_TRY_ASSIGN(crypto::SuiteAead aead,
                 cpv4_cipher(*suite, suite_name, shared, domain.key, v.nonce, nonce, th));

  // Per object: one encoding (into a reused buffer) and one AEAD.
  out.objects.reserve(objects.size());
  Cpv4Binding b(th);
  SecretBytes flat;
  for (std::size_t i = 0; i < objects.size(); ++i) {
    const std::uint64_t counter = i + 1;
    encode_flat(objects[i], flat);
    Bytes msg(kCpv4MsgHeader + flat.size() + crypto::kSuiteTagBytes);
    wire::put_le64(msg.data(), counter);
    wire::put_le64(msg.data() + 8, static_cast<std::uint64_t>(now));
    b.set(counter, now);
    HSM_TRY(aead.seal(b.nonce, b.ad, sizeof b.ad, flat.data(), flat.size(), msg.data() + kCpv4MsgHeader));
    out.objects.push_back(std::move(msg));
  }
  return out;
}

std::string failed_auth(Protocol p, std::size_t i) {
  return pname(p) + " message " + std::to_string(i + 1) +
         " failed authentication (wrong domain, tampered or replayed)";
}

api::Status check_kind(Protocol p, const FlatObject& o, std::size_t i) {
  // rule U4: an SKS master key clones only by CPv3 or CPv4.
  if (o.kind == FlatKind::sks_master_key && p == Protocol::cpv1)
    return Error::refused("U4", "CKR_OPERATION_NOT_ALLOWED",
                          "CPv1 message " + std::to_string(i + 1) +
                              " carries an SKS master key, which clones only by CPv3 or CPv4");
  return {};
}

Result<Opened> open_cpv4(const DeviceIdentity& target, TargetSession& session,
                         const std::vector<DomainKey>& domains, const api::CloneMessages& m,
                         std::string_view expected_source) {
  auto parsed = parse_session(m.session);
  if (!parsed) return integrity("CPv4 session header is malformed, truncated or of an unknown version");
  ParsedSession& s = *parsed;
  if (s.offer_hash != session.offer_hash)
    return integrity("CPv4 session header from " + s.source +
                     " answers another offer (replayed or misdirected)");
  HSM_TRY(verify_hok_signed(target, "CPv4 session header", s.source, s.hok_cert, kSessionSigCtx,
                            s.body, s.body_len, s.sig));
  if (!expected_source.empty() && s.source != expected_source)
    return integrity("CPv4 session comes from " + s.source + ", not from " +
                     std::string(expected_source));
  if (expired(session, target.now))
    return expired_refusal("the CPv4 session offered by " + target.name + " expired " +
                           std::to_string(target.now - session.expires) + " s ago");
  // rule U3
  const std::int64_t delta = target.now - s.time;
  if (delta > kClockToleranceS || delta < -kClockToleranceS)
    return clock_refusal(target.name, "the CPv4 session header from " + s.source, delta);
  const auto suite = crypto::parse_suite(s.suite);
  if (!suite || !contains(session.suites, s.suite))
    return Error::refused("U2", "CKR_MECHANISM_INVALID",
                          "CPv4 suite \"" + s.suite + "\" chosen by " + s.source +
                              " was not offered by " + target.name,
                          "renegotiate");
  const DomainKey* dom = contains(session.domain_fingerprints, s.domain) ? find_domain(domains, s.domain)
                                                                         : nullptr;
  if (!dom || dom->key.size() != kDomainKeyBytes)
    return domain_refusal(target.name + " does not hold the cloning domain " + s.domain + " chosen by " +
                          s.source);
  if (s.count != m.objects.size())
    return integrity("CPv4 session from " + s.source + " declares " + std::to_string(s.count) +
                     " messages but " + std::to_string(m.objects.size()) +
                     " arrived (truncated or padded)");
  if (s.count > session.max_messages - std::min(session.max_messages, session.messages_used))
    return expired_refusal("the CPv4 session offered by " + target.name + " has room for " +
                           std::to_string(session.max_messages - session.messages_used) +
                           " more messages, " + std::to_string(s.count) + " arrived");

  const Bytes th = transcript_hash(s.body, s.body_len);
  auto shared = crypto::x25519(session.ephemeral_private_der, s.eph_pub);
  if (!shared) return integrity("CPv4 session from " + s.source + ": bad ephemeral key");
  HSM_TRY_ASSIGN(crypto::SuiteAead aead,
                 cpv4_cipher(*suite, s.suite, *shared, dom->key, session.nonce, s.nonce, th));

  Opened out;
  out.source = s.source;
  out.domain_fingerprint = s.domain;
  out.suite = s.suite;
  out.objects.reserve(m.objects.size());
  auto it = session.last_counter.find(th);
  std::uint64_t last = it == session.last_counter.end() ? 0 : it->second;
  Cpv4Binding b(th);
  SecretBytes pt;
  for (std::size_t i = 0; i < m.objects.size(); ++i) {
    const Bytes& msg = m.objects[i];
    if (msg.size() < kCpv4MsgHeader + crypto::kSuiteTagBytes)
      return integrity("CPv4 message " + std::to_string(i + 1) + " is truncated");
    wire::Reader r(msg.data(), kCpv4MsgHeader);
    const std::uint64_t counter = r.u64();
    const std::int64_t ts = r.i64();
    if (counter <= last)
      return integrity("CPv4 message " + std::to_string(i + 1) + " replayed or out of order (counter " +
                       std::to_string(counter) + ", expected above " + std::to_string(last) + ")");
    b.set(counter, ts);
    const std::size_t ct_len = msg.size() - kCpv4MsgHeader;
    pt.resize(ct_len - crypto::kSuiteTagBytes);
    if (!aead.open(b.nonce, b.ad, sizeof b.ad, msg.data() + kCpv4MsgHeader, ct_len, pt.data()))
      return integrity(failed_auth(Protocol::cpv4, i), "CKR_ENCRYPTED_DATA_INVALID");
    // rule U3, on the authenticated timestamp.
    const std::int64_t d = target.now - ts;
    if (d > kClockToleranceS || d < -kClockToleranceS)
      return clock_refusal(target.name, "CPv4 message " + std::to_string(i + 1) + " from " + s.source, d);
    auto flat = decode_flat(pt.data(), pt.size());
    if (!flat) {
      Error e = flat.error();
      e.message = "CPv4 message " + std::to_string(i + 1) + ": " + e.message;
      return e;
    }
    HSM_TRY(check_kind(Protocol::cpv4, *flat, i));
    out.objects.push_back(std::move(flat).value());
    last = counter;
  }
  session.last_counter[th] = last;
  session.messages_used += m.objects.size();
  return out;
}

struct ParsedObjectMsg {
  std::string protocol, source, domain;
  Bytes offer_hash, session_id, wrapped, sealed;
  std::uint32_t index = 0;
  std::size_t header_len = 0;
};

std::optional<ParsedObjectMsg> parse_object_msg(const Bytes& msg) {
  ParsedObjectMsg o;
  wire::Reader r(msg.data(), msg.size());
  if (!r.expect(kObjMagic, 4) || r.u16() != kWireVersion) return std::nullopt;
  o.protocol = r.str();
  o.offer_hash = r.fixed<kHashBytes>();
  o.source = r.str();
  o.domain = r.str();
  o.index = r.u32();
  o.session_id = r.fixed<kObjectSessionIdBytes>();
  o.wrapped = r.blob();
  if (!r.ok()) return std::nullopt;
  o.header_len = static_cast<std::size_t>(r.pos() - msg.data());
  o.sealed = r.blob();
  if (!r.at_end()) return std::nullopt;
  return o;
}

Result<Opened> open_per_object(const DeviceIdentity& target, TargetSession& session, const Twc* twc,
                               const std::vector<DomainKey>& domains, const api::CloneMessages& m,
                               std::string_view expected_source) {
  const Protocol p = session.protocol;
  if (!m.session.empty()) return integrity(pname(p) + " messages carry an unexpected session header");
  if (!twc || twc->bits != twc_bits_for(p) || crypto::sha256(twc->cert_der) != session.twc_cert_hash)
    return Error::other(pname(p) + ": the token wrapping certificate given is not the one offered");
  if (expired(session, target.now))
    return expired_refusal("the " + pname(p) + " offer made by " + target.name + " expired " +
                           std::to_string(target.now - session.expires) + " s ago");
  if (m.objects.size() > session.max_messages - std::min(session.max_messages, session.messages_used))
    return expired_refusal("the " + pname(p) + " offer made by " + target.name + " has room for " +
                           std::to_string(session.max_messages - session.messages_used) +
                           " more objects, " + std::to_string(m.objects.size()) + " arrived");
  const Bytes label = oaep_label(p);
  Opened out;
  out.objects.reserve(m.objects.size());
  std::set<Bytes> ids;
  for (std::size_t i = 0; i < m.objects.size(); ++i) {
    const std::string which = pname(p) + " message " + std::to_string(i + 1);
    auto po = parse_object_msg(m.objects[i]);
    if (!po) return integrity(which + " is malformed, truncated or of an unknown version");
    if (po->protocol != pname(p)) return integrity(which + " is a " + po->protocol + " message");
    if (po->offer_hash != session.offer_hash)
      return integrity(which + " answers another offer (replayed or misdirected)");
    if (po->index != i) return integrity(which + " is out of order (index " + std::to_string(po->index) + ")");
    if (!expected_source.empty() && po->source != expected_source)
      return integrity(which + " comes from " + po->source + ", not from " + std::string(expected_source));
    if (i == 0) {
      out.source = po->source;
      out.domain_fingerprint = po->domain;
    } else if (po->source != out.source || po->domain != out.domain_fingerprint) {
      return integrity(which + " comes from another source or domain than message 1");
    }
    if (session.seen_object_sessions.count(po->session_id) || !ids.insert(po->session_id).second)
      return integrity(which + " was replayed (its object session was already used)");
    const DomainKey* dom = contains(session.domain_fingerprints, po->domain) ? find_domain(domains, po->domain)
                                                                             : nullptr;
    if (!dom || dom->key.size() != kDomainKeyBytes)
      return domain_refusal(target.name + " does not hold the cloning domain " + po->domain +
                            " chosen by " + po->source);
    auto cek = crypto::rsa_oaep_decrypt(twc->private_der, po->wrapped, label);
    if (!cek || cek->size() != kContentKeyBytes)
      return integrity(failed_auth(p, i), "CKR_WRAPPED_KEY_INVALID");
    const Bytes ad = object_ad(session.twc_cert_hash, m.objects[i].data(), po->header_len);
    HSM_TRY_ASSIGN(SecretBytes key, object_key(*cek, dom->key, session.nonce, ad));
    auto pt = crypto::aead_open(key, ad, po->sealed);
    if (!pt) return integrity(failed_auth(p, i), "CKR_ENCRYPTED_DATA_INVALID");
    auto flat = decode_flat(*pt);
    if (!flat) {
      Error e = flat.error();
      e.message = which + ": " + e.message;
      return e;
    }
    HSM_TRY(check_kind(p, *flat, i));
    out.objects.push_back(std::move(flat).value());
  }
  session.seen_object_sessions.insert(ids.begin(), ids.end());
  session.messages_used += m.objects.size();
  return out;
}

}  // namespace

int twc_bits_for(Protocol p) {
  switch (p) {
    case Protocol::cpv1:
      return 2048;
    case Protocol::cpv3:
      return 4096;
    case Protocol::cpv4:
    case Protocol::kwp:  // not a CP protocol (the portable form, no TWC)
      return 0;
  }
  return 0;
}

Result<Twc> make_twc(const DeviceIdentity& device, int bits) {
  if (bits != 2048 && bits != 4096)
    return Error::usage("a token wrapping certificate is RSA-2048 (CPv1) or RSA-4096 (CPv3)");
  HSM_TRY_ASSIGN(crypto::KeyMaterial k, crypto::generate({api::KeyType::rsa, bits, ""}));
  const Bytes sn = crypto::random_bytes(8);
  std::uint64_t serial = 0;
  for (int i = 0; i < 8; ++i) serial = (serial << 8) | sn[static_cast<std::size_t>(i)];
  serial = (serial >> 1) | 1;  // positive, non-zero
  const std::string cn = device.name + (bits == 2048 ? " TWC (CPv1, RSA-2048)" : " TWC (CPv3, RSA-4096)");
  HSM_TRY_ASSIGN(Bytes cert, crypto::issue_certificate(k.public_der, cn, device.hok_private_der,
                                                       device.hok_cert_der, device.now - 60,
                                                       3650, serial));
  Twc t;
  t.bits = bits;
  t.private_der = std::move(k.secret);
  t.cert_der = std::move(cert);
  return t;
}

bool expired(const TargetSession& s, std::int64_t target_now) { return target_now > s.expires; }

Result<Offer> make_offer(const DeviceIdentity& target, const OfferParams& params) {
  const Protocol p = params.protocol;
  if (params.lifetime_s <= 0 || params.lifetime_s > kMaxLifetimeS || params.max_messages == 0)
    return Error::usage("a clone session needs a lifetime of 1 s to 1 day and room for a message");
  if (params.domain_fingerprints.empty() || params.domain_fingerprints.size() > kMaxListEntries)
    return Error::usage("a clone offer names 1 to 16 domains");
  if (params.suites.size() > kMaxListEntries) return Error::usage("too many cipher suites");
  Offer o;
  TargetSession& s = o.session;
  s.protocol = p;
  s.nonce = crypto::random_bytes(kNonceBytes);
  s.issued = target.now;
  s.expires = target.now + params.lifetime_s;
  s.max_messages = params.max_messages;
  s.domain_fingerprints = params.domain_fingerprints;
  Bytes eph_pub;
  const Bytes* twc_cert = nullptr;
  if (p == Protocol::cpv4) {
    if (params.suites.empty())
      return Error::refused("U2", "CKR_MECHANISM_INVALID",
                            target.name + " enables no CPv4 cipher suite (CPv4 is disabled)");
    for (const auto& su : params.suites)
      if (!crypto::parse_suite(su)) return Error::usage("unknown CPv4 cipher suite \"" + su + "\"");
    HSM_TRY_ASSIGN(crypto::KeyMaterial eph, crypto::generate_x25519());
    s.ephemeral_private_der = std::move(eph.secret);
    eph_pub = std::move(eph.public_der);
    s.suites = params.suites;
  } else {
    if (!params.twc || params.twc->bits != twc_bits_for(p))
      return Error::usage(pname(p) + " needs the RSA-" + std::to_string(twc_bits_for(p)) +
                          " token wrapping certificate");
    twc_cert = &params.twc->cert_der;
    s.twc_cert_hash = crypto::sha256(*twc_cert);
  }
  Bytes blob;
  wire::Writer<Bytes> w(blob);
  w.raw(reinterpret_cast<const std::uint8_t*>(kOfferMagic), 4);
  w.u16(kWireVersion);
  w.str(api::to_string(p));
  w.str(target.name);
  w.blob(target.hok_cert_der);
  w.blob(twc_cert ? *twc_cert : Bytes{});
  w.blob(eph_pub);
  w.raw(s.nonce);
  w.i64(s.issued);
  w.i64(s.expires);
  w.u64(s.max_messages);
  w.u8(static_cast<std::uint8_t>(s.suites.size()));
  for (const auto& su : s.suites) w.str(su);
  w.u8(static_cast<std::uint8_t>(s.domain_fingerprints.size()));
  for (const auto& d : s.domain_fingerprints) w.str(d);
  HSM_TRY_ASSIGN(Bytes sig, hok_sign(target, kOfferSigCtx, blob));
  w.blob(sig);
  s.offer_hash = crypto::sha256(blob);
  o.offer.accepts = {p};
  o.offer.blob = std::move(blob);
  return o;
}

Result<OfferInfo> verify_offer(const DeviceIdentity& verifier, const api::CloneOffer& offer) {
  HSM_TRY_ASSIGN(VerifiedOffer v, verify_offer_full(verifier, offer));
  return std::move(v.info);
}

Result<api::CloneMessages> seal(const DeviceIdentity& source, const api::CloneOffer& offer,
                                const std::vector<DomainKey>& domains, const SealParams& params,
                                std::span<const FlatObject> objects) {
  HSM_TRY_ASSIGN(VerifiedOffer v, verify_offer_full(source, offer));
  const Protocol p = v.info.protocol;
  // rule S1: the chosen domain must be held by both.
  const DomainKey* dom = find_domain(domains, params.domain_fingerprint);
  if (!dom || dom->key.size() != kDomainKeyBytes)
    return domain_refusal(source.name + " does not hold the cloning domain " + params.domain_fingerprint);
  if (!contains(v.info.domain_fingerprints, params.domain_fingerprint))
    return domain_refusal(v.info.target + " does not hold the cloning domain " +
                          params.domain_fingerprint + " of " + source.name);
  // rule U1: one session carries at most max_messages objects.
  if (objects.size() > v.info.max_messages)
    return expired_refusal("the " + pname(p) + " session offered by " + v.info.target +
                           " carries at most " + std::to_string(v.info.max_messages) + " objects, " +
                           std::to_string(objects.size()) + " were given");
  for (std::size_t i = 0; i < objects.size(); ++i) HSM_TRY(check_kind(p, objects[i], i));
  if (p == Protocol::cpv4) return seal_cpv4(source, v, *dom, params.suite, objects);
  return seal_per_object(source, v, *dom, objects);
}

Result<Opened> open(const DeviceIdentity& target, TargetSession& session, const Twc* twc,
                    const std::vector<DomainKey>& domains, const api::CloneMessages& messages,
                    std::string_view expected_source) {
  if (messages.protocol != session.protocol)
    return integrity(pname(messages.protocol) + " messages do not answer this " +
                     pname(session.protocol) + " offer");
  if (session.protocol == Protocol::cpv4)
    return open_cpv4(target, session, domains, messages, expected_source);
  return open_per_object(target, session, twc, domains, messages, expected_source);
}

}  // namespace hsm::luna::cloning
