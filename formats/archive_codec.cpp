#include "formats/archive_codec.hpp"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>

namespace hsm::formats::detail {

namespace {

// Fetched once: an implicit fetch on every EVP_DigestInit costs more than
// hashing a small blob.
const EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

[[noreturn]] void fatal(const char* what) {
  // SHA-256 over memory cannot fail short of memory exhaustion or a broken
  // OpenSSL; continuing would produce or accept an unhashed archive.
  std::fprintf(stderr, "hsm-migrate: fatal: %s failed\n", what);
  std::abort();
}

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || !sha256_md() || EVP_DigestInit_ex2(ctx_, sha256_md(), nullptr) != 1)
    fatal("SHA-256 initialisation");
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::update(const void* data, std::size_t n) {
  if (n != 0 && EVP_DigestUpdate(ctx_, data, n) != 1) fatal("SHA-256 update");
}

Digest Sha256::finish() {
  Digest d{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_, d.data(), &len) != 1 || len != d.size()) fatal("SHA-256 final");
  if (EVP_DigestInit_ex2(ctx_, sha256_md(), nullptr) != 1) fatal("SHA-256 initialisation");
  return d;
}

Digest sha256(const void* data, std::size_t n) {
  Sha256 h;
  h.update(data, n);
  return h.finish();
}

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  std::size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    std::uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    static constexpr std::uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

namespace {

Error make_error(ErrorKind kind, std::string m) { return {kind, std::move(m), {}, {}, {}}; }

Status check_string(std::string_view field, const std::string& s, bool required, ErrorKind kind) {
  if (required && s.empty()) return make_error(kind, "archive header: " + std::string(field) + " is empty");
  if (s.size() > kMaxString)
    return make_error(kind, "archive header: " + std::string(field) + " is " +
                                std::to_string(s.size()) + " bytes long (limit " +
                                std::to_string(kMaxString) + ")");
  if (!valid_utf8(s))
    return make_error(kind, "archive header: " + std::string(field) + " is not valid UTF-8");
  return {};
}

void put_string(Bytes& b, const std::string& s) {
  put_u8(b, static_cast<std::uint8_t>(s.size()));
  put_bytes(b, reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

// Bounds-checked reader over a header body.
class BodyReader {
 public:
  BodyReader(const std::uint8_t* p, std::size_t n) : p_(p), n_(n) {}
  std::size_t remaining() const { return n_ - pos_; }
  Status need(std::size_t k, std::string_view field) const {
    if (k > remaining())
      return Error::integrity("archive header: " + std::string(field) + " needs " +
                              std::to_string(k) + " bytes but the header has " +
                              std::to_string(remaining()) + " left");
    return {};
  }
  const std::uint8_t* take(std::size_t k) {
    const std::uint8_t* r = p_ + pos_;
    pos_ += k;
    return r;
  }
  Result<std::string> string(std::string_view field) {
    HSM_TRY(need(1, field));
    std::size_t len = *take(1);
    HSM_TRY(need(len, field));
    const auto* s = take(len);
    return std::string(reinterpret_cast<const char*>(s), len);
  }
  Result<std::uint32_t> u32(std::string_view field) {
    HSM_TRY(need(4, field));
    return load_u32(take(4));
  }

 private:
  const std::uint8_t* p_;
  std::size_t n_;
  std::size_t pos_ = 0;
};

}  // namespace

Status validate_header(const ArchiveHeader& h, ErrorKind kind) {
  if (h.format_version < kOldestFormatVersion || h.format_version > kFormatVersion)
    return make_error(kind, "archive header: format version " + std::to_string(h.format_version) +
                                " is not one this hsm-migrate knows (" + std::to_string(kOldestFormatVersion) +
                                " to " + std::to_string(kFormatVersion) + ")");
  if (h.format_version >= 2) {
    if (h.scope != ArchiveScope::complete && h.scope != ArchiveScope::subset)
      return make_error(kind, "archive header: scope " + std::to_string(static_cast<int>(h.scope)) +
                                  " is neither complete (1) nor subset (2)");
    if ((h.scope == ArchiveScope::complete) != h.selector.empty())
      return make_error(kind, "archive header: a complete archive has no selector, a subset has one");
    HSM_TRY(check_string("selector", h.selector, false, kind));
  }
  HSM_TRY(check_string("source device", h.source_device, true, kind));
  HSM_TRY(check_string("device kind", h.device_kind, true, kind));
  HSM_TRY(check_string("firmware", h.firmware, true, kind));
  HSM_TRY(check_string("FM class", h.fm_class, true, kind));
  HSM_TRY(check_string("partition name", h.partition_name, true, kind));
  HSM_TRY(check_string("partition type", h.partition_type, true, kind));
  if (h.fm_class != "never" && h.fm_class != "enabled")
    return make_error(kind, "archive header: FM class \"" + h.fm_class +
                                "\" is neither \"never\" nor \"enabled\"");
  if (h.partition_type != "v0" && h.partition_type != "v1")
    return make_error(kind, "archive header: partition type \"" + h.partition_type +
                                "\" is neither \"v0\" nor \"v1\"");
  if (h.wrapped_master_key.empty() || h.wrapped_master_key.size() > kMaxWrappedKey)
    return make_error(kind, "archive header: wrapped master key is " +
                                std::to_string(h.wrapped_master_key.size()) +
                                " bytes (must be 1 to " + std::to_string(kMaxWrappedKey) + ")");
  if (h.certificates.size() < kMinCertificates || h.certificates.size() > kMaxCertificates)
    return make_error(kind, "archive header: " + std::to_string(h.certificates.size()) +
                                " certificates (must be " + std::to_string(kMinCertificates) +
                                " to " + std::to_string(kMaxCertificates) + ": HOK first, root last)");
  for (std::size_t i = 0; i < h.certificates.size(); ++i)
    if (h.certificates[i].empty() || h.certificates[i].size() > kMaxCertificate)
      return make_error(kind, "archive header: certificate " + std::to_string(i) + " is " +
                                  std::to_string(h.certificates[i].size()) +
                                  " bytes (must be 1 to " + std::to_string(kMaxCertificate) + ")");
  return {};
}

Result<Bytes> encode_header_body(const ArchiveHeader& h) {
  HSM_TRY(validate_header(h, ErrorKind::usage));
  Bytes b;
  put_bytes(b, h.archive_id.data(), h.archive_id.size());
  put_u64(b, static_cast<std::uint64_t>(h.created_at));
  put_string(b, h.source_device);
  put_string(b, h.device_kind);
  put_string(b, h.firmware);
  put_string(b, h.fm_class);
  put_string(b, h.partition_name);
  put_string(b, h.partition_type);
  if (h.format_version >= 2) {
    put_u8(b, static_cast<std::uint8_t>(h.scope));
    put_string(b, h.selector);
  }
  put_bytes(b, h.domain_fingerprint.data(), h.domain_fingerprint.size());
  put_u32(b, static_cast<std::uint32_t>(h.wrapped_master_key.size()));
  put_bytes(b, h.wrapped_master_key.data(), h.wrapped_master_key.size());
  put_u8(b, static_cast<std::uint8_t>(h.certificates.size()));
  for (const auto& c : h.certificates) {
    put_u32(b, static_cast<std::uint32_t>(c.size()));
    put_bytes(b, c.data(), c.size());
  }
  if (b.size() > kMaxHeaderBody)
    return Error::usage("archive header is " + std::to_string(b.size()) + " bytes (limit " +
                        std::to_string(kMaxHeaderBody) + ")");
  return b;
}

Result<ArchiveHeader> decode_header_body(const std::uint8_t* p, std::size_t n, std::uint32_t version) {
  BodyReader r(p, n);
  ArchiveHeader h;
  h.format_version = version;
  HSM_TRY(r.need(h.archive_id.size() + 8, "archive id and creation time"));
  std::memcpy(h.archive_id.data(), r.take(h.archive_id.size()), h.archive_id.size());
  h.created_at = static_cast<std::int64_t>(load_u64(r.take(8)));
  HSM_TRY_ASSIGN(h.source_device, r.string("source device"));
  HSM_TRY_ASSIGN(h.device_kind, r.string("device kind"));
  HSM_TRY_ASSIGN(h.firmware, r.string("firmware"));
  HSM_TRY_ASSIGN(h.fm_class, r.string("FM class"));
  HSM_TRY_ASSIGN(h.partition_name, r.string("partition name"));
  HSM_TRY_ASSIGN(h.partition_type, r.string("partition type"));
  if (version >= 2) {
    HSM_TRY(r.need(1, "scope"));
    h.scope = static_cast<ArchiveScope>(*r.take(1));  // validated below
    HSM_TRY_ASSIGN(h.selector, r.string("selector"));
  } else {
    h.scope = ArchiveScope::unknown;
  }
  HSM_TRY(r.need(h.domain_fingerprint.size(), "domain fingerprint"));
  std::memcpy(h.domain_fingerprint.data(), r.take(h.domain_fingerprint.size()),
              h.domain_fingerprint.size());
  HSM_TRY_ASSIGN(std::uint32_t wlen, r.u32("wrapped master key length"));
  if (wlen == 0 || wlen > kMaxWrappedKey)
    return Error::integrity("archive header: wrapped master key length " + std::to_string(wlen) +
                            " is out of range (1 to " + std::to_string(kMaxWrappedKey) + ")");
  HSM_TRY(r.need(wlen, "wrapped master key"));
  const auto* w = r.take(wlen);
  h.wrapped_master_key.assign(w, w + wlen);
  HSM_TRY(r.need(1, "certificate count"));
  std::size_t count = *r.take(1);
  if (count < kMinCertificates || count > kMaxCertificates)
    return Error::integrity("archive header: certificate count " + std::to_string(count) +
                            " is out of range (" + std::to_string(kMinCertificates) + " to " +
                            std::to_string(kMaxCertificates) + ")");
  for (std::size_t i = 0; i < count; ++i) {
    HSM_TRY_ASSIGN(std::uint32_t clen, r.u32("certificate length"));
    if (clen == 0 || clen > kMaxCertificate)
      return Error::integrity("archive header: certificate " + std::to_string(i) + " length " +
                              std::to_string(clen) + " is out of range (1 to " +
                              std::to_string(kMaxCertificate) + ")");
    HSM_TRY(r.need(clen, "certificate"));
    const auto* c = r.take(clen);
    h.certificates.emplace_back(c, c + clen);
  }
  if (r.remaining() != 0)
    return Error::integrity("archive header: " + std::to_string(r.remaining()) +
                            " unexpected bytes after the last field");
  HSM_TRY(validate_header(h, ErrorKind::integrity));
  return h;
}

// --- certificates and signatures (OpenSSL) ---

namespace {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

bool is_p256(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return false;
  char group[64] = {};
  std::size_t len = 0;
  return EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof group, &len) == 1 &&
         std::string_view(group, len) == "prime256v1";
}

Result<X509Ptr> parse_certificate(const Bytes& der, std::size_t i, bool allow_p256, ErrorKind kind) {
  const unsigned char* p = der.data();
  X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!x || p != der.data() + der.size()) {
    ERR_clear_error();
    return make_error(kind, "certificate chain: certificate " + std::to_string(i) +
                                " is not one DER X.509 certificate");
  }
  EVP_PKEY* key = X509_get0_pubkey(x.get());  // null when the key does not decode
  const bool ok = key && (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 || (allow_p256 && is_p256(key)));
  if (!ok) {
    ERR_clear_error();
    return make_error(kind, "certificate chain: certificate " + std::to_string(i) +
                                (allow_p256 ? " holds neither an Ed25519 nor an ECDSA P-256 key"
                                            : " does not hold an Ed25519 key"));
  }
  return x;
}

std::string subject_of(X509* x) {
  char buf[512];
  X509_NAME_oneline(X509_get_subject_name(x), buf, sizeof buf);
  return buf;
}

std::string common_name_of(X509* x) {
  X509_NAME* name = X509_get_subject_name(x);
  const int at = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (at < 0) return {};
  // Exactly one CN: a second would let a certificate name two devices.
  if (X509_NAME_get_index_by_NID(name, NID_commonName, at) >= 0) return {};
  unsigned char* utf8 = nullptr;
  const int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at)));
  if (n < 0) {
    ERR_clear_error();
    return {};
  }
  std::string cn(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(n));
  OPENSSL_free(utf8);
  return cn;
}

Result<HokKey> key_of(X509* x, ErrorKind kind) {
  HokKey k;
  EVP_PKEY* key = X509_get0_pubkey(x);
  k.type = EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 ? HokKeyType::ed25519 : HokKeyType::ecdsa_p256;
  const int n = i2d_PUBKEY(key, nullptr);
  if (n <= 0) {
    ERR_clear_error();
    return make_error(kind, "certificate chain: cannot read the HOK's public key");
  }
  k.public_der.resize(static_cast<std::size_t>(n));
  unsigned char* p = k.public_der.data();
  i2d_PUBKEY(key, &p);
  return k;
}

}  // namespace

Result<ChainInfo> check_chain(const std::vector<Bytes>& certs, std::uint32_t format_version, ErrorKind kind) {
  if (certs.size() < kMinCertificates || certs.size() > kMaxCertificates)
    return make_error(kind, "certificate chain: " + std::to_string(certs.size()) +
                                " certificates (must be HOK, optional intermediates, root)");
  std::vector<X509Ptr> xs;
  for (std::size_t i = 0; i < certs.size(); ++i) {
    HSM_TRY_ASSIGN(X509Ptr x, parse_certificate(certs[i], i, i == 0 && format_version >= 2, kind));
    xs.push_back(std::move(x));
  }
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const bool root = i + 1 == xs.size();
    X509* issuer = root ? xs[i].get() : xs[i + 1].get();
    const std::string who = (i == 0 ? "HOK certificate " : root ? "root certificate " : "certificate ") +
                            subject_of(xs[i].get());
    if (X509_check_issued(issuer, xs[i].get()) != X509_V_OK) {
      ERR_clear_error();
      return make_error(kind, "certificate chain: " + who +
                                  (root ? " is not self-issued" : " was not issued by " + subject_of(issuer)));
    }
    if (X509_verify(xs[i].get(), X509_get0_pubkey(issuer)) != 1) {
      ERR_clear_error();
      return make_error(kind, "certificate chain: " + who +
                                  (root ? " is not self-signed (its signature does not verify)"
                                        : " is not signed by " + subject_of(issuer)));
    }
  }
  ChainInfo info;
  HSM_TRY_ASSIGN(info.hok, key_of(xs.front().get(), kind));
  info.root_sha256 = sha256(certs.back().data(), certs.back().size());
  info.hok_subject = subject_of(xs.front().get());
  info.hok_common_name = common_name_of(xs.front().get());
  info.root_subject = subject_of(xs.back().get());
  return info;
}

Result<HokKey> hok_key(const std::vector<Bytes>& certs, std::uint32_t format_version, ErrorKind kind) {
  if (certs.empty()) return make_error(kind, "certificate chain: no HOK certificate");
  HSM_TRY_ASSIGN(X509Ptr x, parse_certificate(certs.front(), 0, format_version >= 2, kind));
  return key_of(x.get(), kind);
}

bool verify_signature(const HokKey& hok, const Digest& message, const std::uint8_t* signature,
                      std::size_t signature_size) {
  if (signature_size != kSignatureSize) return false;
  const unsigned char* p = hok.public_der.data();
  PkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(hok.public_der.size())));
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  bool ok = false;
  if (key && ctx && hok.type == HokKeyType::ed25519) {
    ok = EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), signature, signature_size, message.data(), message.size()) == 1;
  } else if (key && ctx) {
    // r || s -> DER ECDSA-Sig-Value, as OpenSSL verifies it.
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(ECDSA_SIG_new(), ECDSA_SIG_free);
    BIGNUM* r = BN_bin2bn(signature, 32, nullptr);
    BIGNUM* s = BN_bin2bn(signature + 32, 32, nullptr);
    if (sig && r && s && ECDSA_SIG_set0(sig.get(), r, s) == 1) {
      unsigned char* der = nullptr;
      const int n = i2d_ECDSA_SIG(sig.get(), &der);
      ok = n > 0 && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
           EVP_DigestVerify(ctx.get(), der, static_cast<std::size_t>(n), message.data(), message.size()) == 1;
      OPENSSL_free(der);
    } else {
      BN_free(r);
      BN_free(s);
    }
  }
  ERR_clear_error();
  return ok;
}

Status check_hok_names_device(const std::string& cn, const std::string& source_device, ErrorKind kind) {
  if (cn.size() > source_device.size() + 1 && cn.compare(0, source_device.size(), source_device) == 0 &&
      cn[source_device.size()] == ' ')
    return {};
  return make_error(kind, "the archive's HOK certificate names \"" + cn + "\", not the source device \"" +
                          source_device + "\" of its header: the header was edited or the archive was "
                          "signed by another device");
}

}  // namespace hsm::formats::detail
