// Owning pointers for OpenSSL objects, one home for the crypto sources
// (each unique_ptr frees its object with the matching *_free).
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>

namespace hsm::luna::crypto::ossl {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PctxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct MdctxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct CctxFree {
  void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Pctx = std::unique_ptr<EVP_PKEY_CTX, PctxFree>;
using Mdctx = std::unique_ptr<EVP_MD_CTX, MdctxFree>;
using Cctx = std::unique_ptr<EVP_CIPHER_CTX, CctxFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

}  // namespace hsm::luna::crypto::ossl
