// PKCS#11 baselines (issue 12): what raw C loops against the token achieve,
// the figures the pkcs11 plugin's backup and restore are measured against
// (goals: backup >= 0.8x the raw wrap loop, restore >= 0.9x the raw unwrap
// loop). Runs against SoftHSM2 in a token folder of its own (temp dir).
//
//   keygen   C_GenerateKey of N AES-256 token keys (setup; SoftHSM's store)
//   init     C_Initialize + find token + C_Login with N objects on disk
//   raw      one session: C_FindObjects (batches of 256), per key one
//            C_GetAttributeValue of 21 attributes and C_WrapKey (KWP) under
//            the per-archive key                      <- the backup baseline
//            (raw, layer and sealed run in 3 interleaved rounds: medians)
//   layer    the same through the token layer (find_objects, read_object,
//            wrap_key): the layer's own overhead
//   sealed   raw + C_Encrypt AES-GCM of the blob with a 48-byte AAD
//   unwrap   C_UnwrapKey (KWP, 15-attribute explicit template) of the N
//            blobs into token objects of a second token  <- the restore baseline
//   unwrap-s the same into session objects (the crypto without the store;
//            3 rounds), then unwrap (one round: it writes N objects)
//
// Usage: bench_pkcs11 [N] [--dir DIR] (default 10000 keys, a folder in
// $TMPDIR). SoftHSM's file store truncates and rewrites files per object
// (~36 ftruncate calls each): on a busy virtual disk that dominates object
// creation, and a folder on tmpfs (--dir /dev/shm) shows the token without
// the disk. Report the figures with the machine noted (printed first).
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "plugins/pkcs11/token/keys.hpp"
#include "plugins/pkcs11/token/module.hpp"
#include "plugins/pkcs11/token/objects.hpp"
#include "plugins/pkcs11/token/session.hpp"
#include "plugins/pkcs11/token/transport.hpp"

namespace fs = std::filesystem;
using namespace hsm;  // NOLINT(google-build-using-namespace)

namespace {

const fs::path kModule = "/usr/lib/softhsm/libsofthsm2.so";
const api::Bytes kKekLabel = {'d', 'o', 'm', 'a', 'i', 'n'}, kKekId = {0xD0, 0x01};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench_pkcs11: %s\n", what.c_str());
  std::exit(1);
}

template <class T>
T must(api::Result<T> r, const char* what) {
  if (!r.ok()) die(std::string(what) + ": " + r.error().message);
  return std::move(r).value();
}
void must(const api::Status& s, const char* what) {
  if (!s.ok()) die(std::string(what) + ": " + s.error().message);
}
void must_ok(CK_RV rv, const char* what) {
  if (rv != CKR_OK) die(std::string(what) + " returned 0x" + std::to_string(rv));
}

std::string first_line_with(const char* file, const char* key) {
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key, 0) == 0) return line.substr(line.find(':') + 2);
  return "?";
}

void print_machine(const p11::Module& m) {
  utsname u{};
  ::uname(&u);
  double load[3] = {0, 0, 0};
  ::getloadavg(load, 3);
  std::printf("machine: %s, %ld online CPU(s), %s %s, load %.2f %.2f %.2f\n",
              first_line_with("/proc/cpuinfo", "model name").c_str(),
              ::sysconf(_SC_NPROCESSORS_ONLN), u.sysname, u.release, load[0], load[1], load[2]);
  std::printf("module: %s (%s %d.%d, cryptoki %d.%d), file object store\n", kModule.c_str(),
              m.info().description.c_str(), m.info().library.major, m.info().library.minor,
              m.info().cryptoki.major, m.info().cryptoki.minor);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median round (and the best one when there are several).
void report(const char* name, std::size_t n, const std::vector<double>& rounds, const char* what) {
  const double t = median(rounds);
  const double best = *std::min_element(rounds.begin(), rounds.end());
  if (rounds.size() > 1)
    std::printf("%-9s %6zu  %8.3f s  %8.0f objects/s  (best %8.0f)  %s\n", name, n, t, n / t,
                n / best, what);
  else
    std::printf("%-9s %6zu  %8.3f s  %8.0f objects/s                   %s\n", name, n, t, n / t,
                what);
  std::fflush(stdout);
}
void report(const char* name, std::size_t n, double t, const char* what) {
  report(name, n, std::vector<double>{t}, what);
}

p11::Token make_token(const std::shared_ptr<p11::Module>& m, const std::string& label) {
  const auto so = api::secret_from("bench-so-pin"), user = api::secret_from("bench-user-pin");
  must(m->init_token(must(m->free_slot(), "free slot"), so, label), "C_InitToken");
  p11::Token t = must(m->find_token(label), "find token");
  auto s = must(p11::Session::open(t), "session");
  must(s.login(so, CKU_SO), "SO login");
  must(s.init_user_pin(user), "C_InitPIN");
  must(s.logout(), "logout");
  return t;
}

p11::Session login(const p11::Token& t) {
  auto s = must(p11::Session::open(t), "session");
  must(s.login(api::secret_from("bench-user-pin")), "login");
  return s;
}

// The raw attribute read of the backup baseline: class, key type, label,
// id and 17 booleans in one call (buffers sized for this bench's keys).
struct RawAttrs {
  CK_ULONG cls = 0, key_type = 0;
  CK_BYTE label[64], id[16];
  CK_BBOOL b[17];
  std::vector<CK_ATTRIBUTE> t;
  RawAttrs() {
    t = {{CKA_CLASS, &cls, sizeof cls},
         {CKA_KEY_TYPE, &key_type, sizeof key_type},
         {CKA_LABEL, label, sizeof label},
         {CKA_ID, id, sizeof id}};
    const CK_ATTRIBUTE_TYPE bools[17] = {
        CKA_TOKEN,     CKA_PRIVATE,          CKA_MODIFIABLE,  CKA_LOCAL,
        CKA_SENSITIVE, CKA_ALWAYS_SENSITIVE, CKA_EXTRACTABLE, CKA_NEVER_EXTRACTABLE,
        CKA_ENCRYPT,   CKA_DECRYPT,          CKA_SIGN,        CKA_VERIFY,
        CKA_WRAP,      CKA_UNWRAP,           CKA_DERIVE,      CKA_WRAP_WITH_TRUSTED,
        CKA_TRUSTED};
    for (int i = 0; i < 17; ++i) t.push_back({bools[i], &b[i], sizeof(CK_BBOOL)});
  }
  void reset() {
    t[2].ulValueLen = sizeof label;
    t[3].ulValueLen = sizeof id;
  }
};

std::vector<CK_OBJECT_HANDLE> raw_find_extractable(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE s) {
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_BBOOL yes = CK_TRUE;
  CK_ATTRIBUTE f[] = {{CKA_CLASS, &cls, sizeof cls},
                      {CKA_EXTRACTABLE, &yes, sizeof yes},
                      {CKA_TOKEN, &yes, sizeof yes}};
  must_ok(fn->C_FindObjectsInit(s, f, 3), "C_FindObjectsInit");
  std::vector<CK_OBJECT_HANDLE> all;
  CK_OBJECT_HANDLE batch[256];
  for (CK_ULONG got = 0;;) {
    must_ok(fn->C_FindObjects(s, batch, 256, &got), "C_FindObjects");
    if (got == 0) break;
    all.insert(all.end(), batch, batch + got);
  }
  must_ok(fn->C_FindObjectsFinal(s), "C_FindObjectsFinal");
  return all;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t n = 10000;
  fs::path base = fs::temp_directory_path();
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--dir" && i + 1 < argc) {
      base = argv[++i];
    } else {
      n = std::strtoul(a.c_str(), nullptr, 10);
      if (n == 0) die("usage: bench_pkcs11 [N] [--dir DIR]");
    }
  }
  const fs::path dir = base / ("hsm-bench-pkcs11-" + std::to_string(::getpid()));
  fs::create_directories(dir / "tokens");
  std::ofstream(dir / "softhsm2.conf")
      << "directories.tokendir = " << (dir / "tokens").string() << "/\n"
      << "objectstore.backend = file\nlog.level = ERROR\n"
      << "slots.removable = false\nlibrary.reset_on_fork = false\n";
  ::setenv("SOFTHSM2_CONF", (dir / "softhsm2.conf").c_str(), 1);
  api::SecretBytes kek_value(32);
  for (std::size_t i = 0; i < kek_value.size(); ++i)
    kek_value[i] = static_cast<std::uint8_t>(i * 13 + 1);

  std::vector<api::Bytes> ids(n);
  {
    auto m = must(p11::Module::load(kModule), "load");
    print_machine(*m);
    std::printf("%zu AES-256 keys, one session, single thread, token folder %s\n", n, dir.c_str());
    p11::Token src = make_token(m, "bench-src");
    p11::Token dst = make_token(m, "bench-dst");
    for (const p11::Token* t : {&src, &dst}) {
      auto s = login(*t);
      must(p11::create_domain_kek(s, kek_value, kKekLabel, kKekId), "domain KEK");
    }
    // keygen: raw C_GenerateKey, token objects, explicit template.
    auto s = login(src);
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_ULONG len = 32;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_MECHANISM gen{CKM_AES_KEY_GEN, nullptr, 0};
    auto t0 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < n; ++i) {
      char label[32];
      const auto label_len =
          static_cast<CK_ULONG>(std::snprintf(label, sizeof label, "aes-%05zu", i));
      ids[i] = {static_cast<std::uint8_t>(i >> 24), static_cast<std::uint8_t>(i >> 16),
                static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)};
      CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls},
                          {CKA_KEY_TYPE, &kt, sizeof kt},
                          {CKA_VALUE_LEN, &len, sizeof len},
                          {CKA_TOKEN, &yes, 1},
                          {CKA_PRIVATE, &yes, 1},
                          {CKA_SENSITIVE, &yes, 1},
                          {CKA_EXTRACTABLE, &yes, 1},
                          {CKA_ENCRYPT, &yes, 1},
                          {CKA_DECRYPT, &yes, 1},
                          {CKA_SIGN, &no, 1},
                          {CKA_VERIFY, &no, 1},
                          {CKA_WRAP, &no, 1},
                          {CKA_UNWRAP, &no, 1},
                          {CKA_DERIVE, &no, 1},
                          {CKA_LABEL, label, label_len},
                          {CKA_ID, ids[i].data(), 4}};
      CK_OBJECT_HANDLE h = 0;
      must_ok(s.fn()->C_GenerateKey(s.handle(), &gen, t, std::size(t), &h), "C_GenerateKey");
    }
    report("keygen", n, seconds_since(t0), "C_GenerateKey into token objects (setup)");
  }

  // A new process's view: every token object is loaded at C_Initialize.
  auto t_init = std::chrono::steady_clock::now();
  auto m = must(p11::Module::load(kModule), "load");
  p11::Token src = must(m->find_token("bench-src"), "find src");
  p11::Session s = login(src);
  report("init", n, seconds_since(t_init),
         "C_Initialize + C_GetTokenInfo + C_Login (N objects on disk)");
  CK_FUNCTION_LIST* fn = s.fn();
  const CK_SESSION_HANDLE sh = s.handle();
  const CK_OBJECT_HANDLE kek = must(p11::find_domain_kek(s, kKekLabel, kKekId), "KEK");
  const CK_OBJECT_HANDLE ak = must(p11::generate_archive_key(s), "archive key");
  const api::Bytes wrapped_ak = must(p11::wrap_key(s, kek, ak), "wrap archive key");
  CK_MECHANISM kwp{CKM_AES_KEY_WRAP_PAD, nullptr, 0};

  // The fast loops run in interleaved rounds (raw, layer, sealed; three
  // times) so that a load spike on a shared machine hits each of them; the
  // median and the best round are reported.
  std::vector<api::Bytes> blobs;
  RawAttrs attrs;
  auto raw_pass = [&] {
    blobs.clear();
    blobs.reserve(n);
    const auto t = std::chrono::steady_clock::now();
    for (CK_OBJECT_HANDLE h : raw_find_extractable(fn, sh)) {
      attrs.reset();
      must_ok(fn->C_GetAttributeValue(sh, h, attrs.t.data(), attrs.t.size()),
              "C_GetAttributeValue");
      CK_BYTE out[64];
      CK_ULONG len = sizeof out;
      must_ok(fn->C_WrapKey(sh, &kwp, ak, h, out, &len), "C_WrapKey");
      blobs.emplace_back(out, out + len);
    }
    const double secs = seconds_since(t);
    if (blobs.size() != n)
      die("found " + std::to_string(blobs.size()) + " keys, not " + std::to_string(n));
    return secs;
  };
  auto layer_pass = [&] {
    const auto t = std::chrono::steady_clock::now();
    p11::ObjectFilter f;
    f.cls = CKO_SECRET_KEY;
    f.token = true;
    std::size_t wrapped = 0;
    for (CK_OBJECT_HANDLE h : must(p11::find_objects(s, f), "find")) {
      const auto info = must(p11::read_object(s, h), "read");
      if (!info.is(CKA_EXTRACTABLE)) continue;  // the KEK
      (void)must(p11::wrap_key(s, ak, h), "wrap");
      ++wrapped;
    }
    const double secs = seconds_since(t);
    if (wrapped != n)
      die("the layer wrapped " + std::to_string(wrapped) + " keys, not " + std::to_string(n));
    return secs;
  };
  auto sealed_pass = [&] {
    const auto t = std::chrono::steady_clock::now();
    CK_BYTE iv[12] = {0}, aad[48] = {0};
    CK_GCM_PARAMS gp{iv, sizeof iv, 96, aad, sizeof aad, 128};
    CK_MECHANISM gcm{CKM_AES_GCM, &gp, sizeof gp};
    std::uint64_t k = 0;
    for (CK_OBJECT_HANDLE h : raw_find_extractable(fn, sh)) {
      attrs.reset();
      must_ok(fn->C_GetAttributeValue(sh, h, attrs.t.data(), attrs.t.size()),
              "C_GetAttributeValue");
      CK_BYTE out[64], sealed[96];
      CK_ULONG len = sizeof out, slen = sizeof sealed;
      must_ok(fn->C_WrapKey(sh, &kwp, ak, h, out, &len), "C_WrapKey");
      must_ok(fn->C_GenerateRandom(sh, iv, sizeof iv), "C_GenerateRandom");
      std::memcpy(aad, &k, sizeof k);
      ++k;
      must_ok(fn->C_EncryptInit(sh, &gcm, ak), "C_EncryptInit");
      must_ok(fn->C_Encrypt(sh, out, len, sealed, &slen), "C_Encrypt");
    }
    return seconds_since(t);
  };
  std::vector<double> t_raw, t_layer, t_sealed;
  for (int round = 0; round < 3; ++round) {
    t_raw.push_back(raw_pass());
    t_layer.push_back(layer_pass());
    t_sealed.push_back(sealed_pass());
  }
  report("raw", n, t_raw, "find + 21 attributes + KWP wrap   <- backup baseline");
  report("layer", n, t_layer, "find_objects + read_object (29 attributes) + wrap_key");
  report("sealed", n, t_sealed, "raw + AES-GCM seal on the token (12-byte IV, 48-byte AAD)");

  // unwrap: the restore baseline, into a second token of the domain.
  p11::Token dst = must(m->find_token("bench-dst"), "find dst");
  p11::Session d = login(dst);
  const CK_OBJECT_HANDLE kek_d = must(p11::find_domain_kek(d, kKekLabel, kKekId), "KEK");
  const CK_OBJECT_HANDLE dak =
      must(p11::unwrap_archive_key(d, kek_d, wrapped_ak), "unwrap archive key");
  auto unwrap_pass = [&](p11::Session& into, bool token_objects) {
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE, tok = token_objects ? CK_TRUE : CK_FALSE;
    CK_BYTE label[10] = {'r', 'e', 's', 't', 'o', 'r', 'e', 'd'};
    const auto t = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < blobs.size(); ++i) {
      CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls},
                             {CKA_KEY_TYPE, &kt, sizeof kt},
                             {CKA_TOKEN, &tok, 1},
                             {CKA_PRIVATE, &yes, 1},
                             {CKA_SENSITIVE, &yes, 1},
                             {CKA_EXTRACTABLE, &yes, 1},
                             {CKA_ENCRYPT, &yes, 1},
                             {CKA_DECRYPT, &yes, 1},
                             {CKA_SIGN, &no, 1},
                             {CKA_VERIFY, &no, 1},
                             {CKA_WRAP, &no, 1},
                             {CKA_UNWRAP, &no, 1},
                             {CKA_DERIVE, &no, 1},
                             {CKA_LABEL, label, 8},
                             {CKA_ID, ids[i].data(), 4}};
      CK_OBJECT_HANDLE h = 0;
      must_ok(into.fn()->C_UnwrapKey(into.handle(), &kwp, dak, blobs[i].data(), blobs[i].size(),
                                     tmpl, std::size(tmpl), &h),
              "C_UnwrapKey");
    }
    return seconds_since(t);
  };
  std::vector<double> t_unwrap_s;
  for (int round = 0; round < 3; ++round) {
    // Session objects end with the session that made them.
    p11::Session scratch = must(p11::Session::open(dst), "session");
    t_unwrap_s.push_back(unwrap_pass(scratch, false));
  }
  report("unwrap-s", n, t_unwrap_s, "C_UnwrapKey into session objects (crypto, no store)");
  const std::vector<double> t_unwrap{unwrap_pass(d, true)};
  report("unwrap", n, t_unwrap, "C_UnwrapKey into token objects   <- restore baseline (one round)");
  p11::ObjectFilter restored;
  restored.label = api::Bytes{'r', 'e', 's', 't', 'o', 'r', 'e', 'd'};
  restored.token = true;
  const std::size_t on_disk = must(p11::find_objects(d, restored), "count").size();
  if (on_disk != n)
    die("restored " + std::to_string(on_disk) + " token objects, not " + std::to_string(n));

  const double raw = median(t_raw);
  std::printf(
      "rate ratios (medians): layer/raw %.2f, sealed/raw %.2f, unwrap/raw %.4f (1/%.0f), "
      "unwrap-s/raw %.2f\n",
      raw / median(t_layer), raw / median(t_sealed), raw / t_unwrap[0], t_unwrap[0] / raw,
      raw / median(t_unwrap_s));
  double load[3] = {0, 0, 0};
  ::getloadavg(load, 3);
  std::printf("load at the end: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
  fs::remove_all(dir);
  return 0;
}
