// The cloning protocols CPv1, CPv3 and CPv4 as message builders and
// checkers (spec/luna-rules.md sections 1, 2 and 6; design.md). The device
// calls these; the tool only carries the opaque blobs.
//
//   target: make_offer()  -> api::CloneOffer (+ a TargetSession kept in memory)
//   source: seal()        -> api::CloneMessages   (verifies the offer first)
//   target: open()        -> FlatObjects          (verifies everything)
//
// CPv1 / CPv3 (one "session" per object, P2/P4): the offer carries the
// target's token wrapping certificate (TWC: RSA-2048 for CPv1, RSA-4096 for
// CPv3, issued by the target's HOK), the HOK certificate, a nonce and the
// target time, signed by the HOK. Each object message carries a fresh 32-byte
// content key wrapped by RSA-OAEP-SHA256 under the TWC, and the flattened
// object sealed (XChaCha20-Poly1305) under
//   HKDF(content key || domain key, salt = offer nonce, info = H(AD))
// with AD binding the protocol, the source name, the TWC certificate hash,
// the offer hash, the domain fingerprint, the object index and a per-object
// session id.
//
// CPv4 (one session per command, U1): the offer carries a fresh ephemeral
// X25519 key, nonce, time, lifetime, the target's enabled suites (in order)
// and domain fingerprints, signed by the target HOK. The source answers with
// a session header (CloneMessages.session) naming the offer hash, its HOK
// certificate, its ephemeral key, nonce, time, the chosen suite and domain and
// the message count, signed by the source HOK. Then
//   th  = SHA-256("hsm-migrate CPv4 transcript v1" || session header body)
//   key = HKDF(X25519 secret || domain key, salt = target nonce || source
//              nonce, info = "hsm-migrate CPv4 session key v1" || th || suite)
// and each object is one AEAD of the chosen suite under nonce = 0^32 ||
// counter (LE), AD = th || counter || message timestamp.
//
// The domain key is an input of every key derivation, so a party without the
// domain key (or holding the wrong one under the right name) cannot produce
// or open a message even if every check were skipped (S1).
//
// Time (U1, U3): every timestamp is a device clock (DeviceIdentity::now).
// CPv4 refuses timestamps more than 300 s from the checker's clock with
// CKR_CLOCK_NOT_IN_SYNC (source: the offer time; target: the session and
// message times). A session lives `lifetime_s` seconds of the *target's*
// clock and carries at most `max_messages` messages; the target enforces both
// exactly at open(). The source enforces the message budget at seal(); it
// cannot judge the 120 s lifetime on its own clock (it cannot tell an offer's
// age from clock skew), so for CPv4 its time check is the U3 window, which
// also refuses offers staler than 300 s. Expiry errors carry rule "U1":
// the caller asks for a new offer and seals again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/api/backend.hpp"
#include "plugins/api/secret.hpp"
#include "plugins/api/status.hpp"
#include "plugins/api/types.hpp"
#include "plugins/luna/cloning/flat_object.hpp"

namespace hsm::luna::cloning {

// U3: the most two device clocks may differ.
inline constexpr std::int64_t kClockToleranceS = 300;
// U1 defaults: a session lives this long on the target's clock...
inline constexpr std::int64_t kSessionLifetimeS = 120;
// ...and carries at most this many object messages.
inline constexpr std::uint64_t kSessionMaxMessages = std::uint64_t{1} << 20;
inline constexpr std::size_t kNonceBytes = 32;
inline constexpr std::size_t kDomainKeyBytes = 32;

// A device's identity: its HOK (Ed25519) and certificate chain, and its clock.
struct DeviceIdentity {
  std::string name;
  SecretBytes hok_private_der;  // PKCS#8
  Bytes hok_cert_der;           // issued by the manufacturing root
  Bytes root_cert_der;          // the fleet's root: the only trust anchor
  std::int64_t now = 0;         // the device's clock: host time + its skew
};

// A token wrapping certificate: RSA key pair whose certificate the HOK issued.
struct Twc {
  int bits = 0;  // 2048 (CPv1) or 4096 (CPv3)
  SecretBytes private_der;
  Bytes cert_der;
};
// RSA-4096 generation takes seconds: the device makes each TWC lazily, once,
// and stores it (sealed). bits must be 2048 or 4096.
Result<Twc> make_twc(const DeviceIdentity& device, int bits);
// The TWC size each protocol uses (0 for CPv4).
int twc_bits_for(api::Protocol p);

// A cloning domain key (32 bytes, derived by the device) and its public
// fingerprint. A partition holds 1 to 3, in order.
struct DomainKey {
  std::string fingerprint;
  SecretBytes key;
  bool primary = false;
};

// --- target: the offer ---

struct OfferParams {
  api::Protocol protocol = api::Protocol::cpv4;
  const Twc* twc = nullptr;  // CPv1: the 2048-bit TWC; CPv3: the 4096-bit TWC; CPv4: unused
  std::vector<std::string> suites;               // CPv4: the target's enabled suites, in order
  std::vector<std::string> domain_fingerprints;  // the target's domains, in order
  std::int64_t lifetime_s = kSessionLifetimeS;
  std::uint64_t max_messages = kSessionMaxMessages;
};

// What the target keeps in memory between make_offer and open. Holds the
// ephemeral private key: discard it once expired (forward secrecy).
struct TargetSession {
  api::Protocol protocol = api::Protocol::cpv4;
  Bytes offer_hash;  // SHA-256 of the offer blob
  Bytes nonce;
  std::int64_t issued = 0;   // target clock
  std::int64_t expires = 0;  // target clock
  std::uint64_t max_messages = 0;
  SecretBytes ephemeral_private_der;  // CPv4
  std::vector<std::string> suites;
  std::vector<std::string> domain_fingerprints;
  Bytes twc_cert_hash;  // CPv1/CPv3: SHA-256 of the TWC certificate offered
  // Replay state, updated only when an open() succeeds as a whole.
  std::uint64_t messages_used = 0;
  std::map<Bytes, std::uint64_t> last_counter;  // CPv4: per source session (transcript hash)
  std::set<Bytes> seen_object_sessions;         // CPv1/CPv3: per-object session ids
};

bool expired(const TargetSession& s, std::int64_t target_now);

struct Offer {
  api::CloneOffer offer;  // accepts = {protocol}; blob = the signed offer
  TargetSession session;
};

Result<Offer> make_offer(const DeviceIdentity& target, const OfferParams& params);

// --- source: verifying an offer and sealing ---

// An offer after its signature and certificate chain were verified against
// the verifier's root (the fields a source may want before choosing).
struct OfferInfo {
  api::Protocol protocol = api::Protocol::cpv4;
  std::string target;  // the name the target signed
  std::int64_t issued = 0;
  std::int64_t expires = 0;
  std::uint64_t max_messages = 0;
  std::vector<std::string> suites;
  std::vector<std::string> domain_fingerprints;
};
// Checks the HOK chain to verifier.root_cert_der, the HOK signature, the TWC
// chain (CPv1/CPv3) and the U3 window (CPv4). Errors: integrity (forged,
// tampered, foreign root), refused U3 CKR_CLOCK_NOT_IN_SYNC.
Result<OfferInfo> verify_offer(const DeviceIdentity& verifier, const api::CloneOffer& offer);

struct SealParams {
  std::string domain_fingerprint;  // the chosen common domain (rules::common_domain)
  std::string suite;               // CPv4: the chosen suite (rules::common_suite); else ""
};

// Verifies the offer (verify_offer), checks the chosen domain is held by the
// source (`domains`) and offered by the target (S1, CKR_CERTIFICATE_INVALID),
// the suite is offered (U2), the objects fit the session budget (U1), that an
// SKS master key does not travel by CPv1 (U4), then seals every object.
Result<api::CloneMessages> seal(const DeviceIdentity& source, const api::CloneOffer& offer,
                                const std::vector<DomainKey>& domains, const SealParams& params,
                                std::span<const FlatObject> objects);

// --- target: opening ---

struct Opened {
  std::vector<FlatObject> objects;  // in message order
  std::string source;               // the source's name (CPv4: checked against its HOK certificate)
  std::string domain_fingerprint;   // the domain the source chose
  std::string suite;                // CPv4 only
};

// Verifies and opens all messages, or none: the session state (replay
// counters, message budget) changes only on success. `twc` is the TWC the
// offer named (CPv1/CPv3). `expected_source`, when not empty, must equal the
// source name in the messages. Errors: integrity ("CPv4 message 3 failed
// authentication (wrong domain, tampered or replayed)", forged header,
// foreign root, replay), refused S1 (the named domain is not held), U1
// (session expired or over budget: renegotiate), U3 (clock), U4.
Result<Opened> open(const DeviceIdentity& target, TargetSession& session, const Twc* twc,
                    const std::vector<DomainKey>& domains, const api::CloneMessages& messages,
                    std::string_view expected_source = {});

}  // namespace hsm::luna::cloning
