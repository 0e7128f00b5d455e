#include "tool/trust.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <memory>

namespace hsm::tool {

namespace fs = std::filesystem;
using api::Error;
using api::Result;

namespace {

constexpr std::size_t kMaxRootFile = 64 * 1024;

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

// DER of the first PEM certificate in text, or nothing.
std::optional<api::Bytes> pem_to_der(const std::string& text) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())),
                                                BIO_free);
  if (!bio) return std::nullopt;
  std::unique_ptr<X509, decltype(&X509_free)> x(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr),
                                                X509_free);
  ERR_clear_error();
  if (!x) return std::nullopt;
  const int n = i2d_X509(x.get(), nullptr);
  if (n <= 0) return std::nullopt;
  api::Bytes der(static_cast<std::size_t>(n));
  unsigned char* p = der.data();
  i2d_X509(x.get(), &p);
  return der;
}

bool is_der_certificate(const std::string& data) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  std::unique_ptr<X509, decltype(&X509_free)> x(d2i_X509(nullptr, &p, static_cast<long>(data.size())), X509_free);
  ERR_clear_error();
  return x && p == reinterpret_cast<const unsigned char*>(data.data()) + data.size();
}

}  // namespace

Result<formats::Digest> root_fingerprint_of_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    return Error::usage("cannot read the trusted root " + file.string(),
                        "give a readable root certificate (DER or PEM) or a file holding its SHA-256 in hex");
  std::string data;
  data.resize(kMaxRootFile + 1);
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<std::size_t>(in.gcount()));
  if (data.size() > kMaxRootFile)
    return Error::usage("the trusted root " + file.string() + " is over 64 KiB: it is no certificate");
  if (auto d = formats::digest_from_hex(trim(data))) return *d;
  if (is_der_certificate(data)) return formats::certificate_sha256(api::Bytes(data.begin(), data.end()));
  if (auto der = pem_to_der(data)) return formats::certificate_sha256(*der);
  return Error::usage("the trusted root " + file.string() +
                          " is neither a certificate (DER or PEM) nor a SHA-256 fingerprint in hex",
                      "export the other fleet's HOME/factory/root.crt, or write its SHA-256 (64 hex digits)");
}

Result<std::vector<TrustedRoot>> trusted_roots(const fs::path& home, const std::vector<std::string>& extra_files) {
  std::vector<TrustedRoot> out;
  std::error_code ec;
  const fs::path own = home / "factory" / "root.crt";
  if (fs::exists(own, ec)) {
    HSM_TRY_ASSIGN(formats::Digest d, root_fingerprint_of_file(own));
    out.push_back({d, "the fleet's manufacturing root (" + own.string() + ")"});
  }
  const fs::path dir = home / "trust";
  if (fs::is_directory(dir, ec)) {
    std::vector<fs::path> files;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
      if (it->is_regular_file() && !it->path().filename().string().starts_with(".")) files.push_back(it->path());
    if (ec) return Error::other("cannot list " + dir.string() + ": " + ec.message());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      HSM_TRY_ASSIGN(formats::Digest d, root_fingerprint_of_file(f));
      out.push_back({d, f.string()});
    }
  }
  for (const auto& f : extra_files) {
    HSM_TRY_ASSIGN(formats::Digest d, root_fingerprint_of_file(f));
    out.push_back({d, "--trusted-root " + f});
  }
  return out;
}

std::vector<formats::Digest> digests_of(const std::vector<TrustedRoot>& roots) {
  std::vector<formats::Digest> out;
  for (const auto& r : roots) out.push_back(r.sha256);
  return out;
}

}  // namespace hsm::tool
