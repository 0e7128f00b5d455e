#include "formats/archive_codec.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

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
  if (h.format_version != kFormatVersion)
    return make_error(kind, "archive header: format version " + std::to_string(h.format_version) +
                                " cannot be written by this hsm-migrate (it writes version " +
                                std::to_string(kFormatVersion) + ")");
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

Result<ArchiveHeader> decode_header_body(const std::uint8_t* p, std::size_t n) {
  BodyReader r(p, n);
  ArchiveHeader h;
  HSM_TRY(r.need(h.archive_id.size() + 8, "archive id and creation time"));
  std::memcpy(h.archive_id.data(), r.take(h.archive_id.size()), h.archive_id.size());
  h.created_at = static_cast<std::int64_t>(load_u64(r.take(8)));
  HSM_TRY_ASSIGN(h.source_device, r.string("source device"));
  HSM_TRY_ASSIGN(h.device_kind, r.string("device kind"));
  HSM_TRY_ASSIGN(h.firmware, r.string("firmware"));
  HSM_TRY_ASSIGN(h.fm_class, r.string("FM class"));
  HSM_TRY_ASSIGN(h.partition_name, r.string("partition name"));
  HSM_TRY_ASSIGN(h.partition_type, r.string("partition type"));
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

Result<X509Ptr> parse_certificate(const Bytes& der, std::size_t i, ErrorKind kind) {
  const unsigned char* p = der.data();
  X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!x || p != der.data() + der.size()) {
    ERR_clear_error();
    return make_error(kind, "certificate chain: certificate " + std::to_string(i) +
                                " is not one DER X.509 certificate");
  }
  EVP_PKEY* key = X509_get0_pubkey(x.get());  // null when the key does not decode
  if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
    ERR_clear_error();
    return make_error(kind, "certificate chain: certificate " + std::to_string(i) +
                                " does not hold an Ed25519 key");
  }
  return x;
}

std::string subject_of(X509* x) {
  char buf[512];
  X509_NAME_oneline(X509_get_subject_name(x), buf, sizeof buf);
  return buf;
}

Result<std::array<std::uint8_t, 32>> raw_ed25519(X509* x, ErrorKind kind) {
  std::array<std::uint8_t, 32> key{};
  std::size_t len = key.size();
  if (EVP_PKEY_get_raw_public_key(X509_get0_pubkey(x), key.data(), &len) != 1 || len != key.size()) {
    ERR_clear_error();
    return make_error(kind, "certificate chain: cannot read the HOK's Ed25519 public key");
  }
  return key;
}

}  // namespace

Result<ChainInfo> check_chain(const std::vector<Bytes>& certs, ErrorKind kind) {
  if (certs.size() < kMinCertificates || certs.size() > kMaxCertificates)
    return make_error(kind, "certificate chain: " + std::to_string(certs.size()) +
                                " certificates (must be HOK, optional intermediates, root)");
  std::vector<X509Ptr> xs;
  for (std::size_t i = 0; i < certs.size(); ++i) {
    HSM_TRY_ASSIGN(X509Ptr x, parse_certificate(certs[i], i, kind));
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
  HSM_TRY_ASSIGN(info.hok_public_key, raw_ed25519(xs.front().get(), kind));
  info.root_sha256 = sha256(certs.back().data(), certs.back().size());
  info.hok_subject = subject_of(xs.front().get());
  info.root_subject = subject_of(xs.back().get());
  return info;
}

Result<std::array<std::uint8_t, 32>> hok_key(const std::vector<Bytes>& certs, ErrorKind kind) {
  if (certs.empty()) return make_error(kind, "certificate chain: no HOK certificate");
  HSM_TRY_ASSIGN(X509Ptr x, parse_certificate(certs.front(), 0, kind));
  return raw_ed25519(x.get(), kind);
}

bool ed25519_verify(const std::array<std::uint8_t, 32>& public_key, const Digest& message,
                    const std::uint8_t* signature, std::size_t signature_size) {
  if (signature_size != kSignatureSize) return false;
  PkeyPtr key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key.data(), public_key.size()));
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  bool ok = key && ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
            EVP_DigestVerify(ctx.get(), signature, signature_size, message.data(), message.size()) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace hsm::formats::detail
