// The pkcs11 plugin against its baselines (issue 12), in one run, on
// SoftHSM2 token folders (tmpfs by default: SoftHSM writes two files per
// object, and a busy disk would measure the disk):
//
//   backup   `hsm-migrate backup` of N AES-256 keys (a process: module
//            load, C_Initialize of the folder, login, find, 29 attributes,
//            KWP wrap and AES-GCM seal on the token, signature, archive
//            written and fsynced)                         goal >= 0.8x raw
//   raw      a process doing C_Initialize + login + find + 21 attributes +
//            KWP wrap under the domain KEK per key, blobs kept in memory
//   tool     pkcs11-tool (OpenSC), one process per key, --wrap of M keys
//            under the same KEK: what an admin's shell loop costs
//   restore  `hsm-migrate restore` of the archive into token objects of a
//            second, empty token (GCM open, rules, KWP unwrap with the
//            full template; no fingerprint is needed into an empty token:
//            portable-form.md)                            goal >= 0.9x raw-unwrap
//   raw-unwrap a process doing C_Initialize + login + C_UnwrapKey of the raw
//            blobs into token objects of a third token (15-attribute template)
//
// Every figure is a process's wall time, C_Initialize included, and both
// sides of a comparison load the same amount: SoftHSM reads every token of
// its folder at C_Initialize, so each restore round makes two new folders
// of equal content, a copy of the source token plus an empty target (`dst`
// for the plugin, `raw` for the loop). backup and raw run in 5 interleaved
// rounds, the restores too; medians are reported.
//
// Usage: bench_pkcs11_plugin [N] [--tool-keys M] [--dir DIR]
// (defaults 10000, 100, a folder under /dev/shm, else $TMPDIR).
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
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

const std::string kModule = "/usr/lib/softhsm/libsofthsm2.so";
const char* kPin = "bench-user-pin";
const char* kSoPin = "bench-so-pin";
const std::string kBin = std::string(HSM_BIN_DIR) + "/hsm-migrate";

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench_pkcs11_plugin: %s\n", what.c_str());
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


// Runs a program (no shell) and returns its wall time; dies unless it exits
// with one of `ok_codes`. Its stdout goes to *out.
double run(const std::vector<std::string>& argv, std::string* out = nullptr, std::vector<int> ok_codes = {0}) {
  const fs::path tmp = fs::temp_directory_path() / ("bench-p11p-out-" + std::to_string(::getpid()));
  const auto t0 = Clock::now();
  std::fflush(stdout);  // else the child's exit would print what the parent buffered, again
  const pid_t pid = ::fork();
  if (pid == 0) {
    (void)std::freopen(tmp.c_str(), "w", stdout);
    (void)std::freopen("/dev/null", "w", stderr);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  const double t = since(t0);
  const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  std::ifstream in(tmp);
  std::stringstream ss;
  ss << in.rdbuf();
  fs::remove(tmp);
  if (std::find(ok_codes.begin(), ok_codes.end(), rc) == ok_codes.end()) {
    std::string line;
    for (const auto& a : argv) line += " " + a;
    die("exit " + std::to_string(rc) + ":" + line + "\n" + ss.str());
  }
  if (out) *out = ss.str();
  return t;
}

// A child process that runs `body` and reports its wall time from fork to exit.
template <class F>
double in_child(F body) {
  std::fflush(stdout);  // the child inherits the buffer: the header once, not once per child
  const auto t0 = Clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    body();
    std::fflush(stdout);
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("a raw loop failed");
  return since(t0);
}

p11::Session login(const std::string& label) {
  auto m = must(p11::Module::load(kModule), "module");
  auto t = must(m->find_token(label), "token");
  auto s = must(p11::Session::open(t), "session");
  must(s.login(api::secret_from(kPin)), "login");
  return s;
}

void make_token(const std::string& label) {
  auto m = must(p11::Module::load(kModule), "module");
  const CK_SLOT_ID slot = must(m->free_slot(), "free slot");
  must(m->init_token(slot, api::secret_from(kSoPin), label), "C_InitToken");
  auto s = must(p11::Session::open(must(m->find_token(label), "token")), "session");
  must(s.login(api::secret_from(kSoPin), CKU_SO), "SO login");
  must(s.init_user_pin(api::secret_from(kPin)), "C_InitPIN");
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void report(const char* name, std::size_t n, double secs, const char* what) {
  std::printf("  %-11s %8zu  %9.3f s  %10.0f objects/s  %s\n", name, n, secs, static_cast<double>(n) / secs, what);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t n = 10000, tool_keys = 100;
  fs::path dir;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--dir" && i + 1 < argc) dir = argv[++i];
    else if (a == "--tool-keys" && i + 1 < argc) tool_keys = std::strtoul(argv[++i], nullptr, 10);
    else n = std::strtoul(argv[i], nullptr, 10);
  }
  if (n == 0) die("N must be at least 1");
  tool_keys = std::min(tool_keys, n);
  if (dir.empty())
    dir = (fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path()) /
          ("bench-p11p-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "home");
  ::chmod((dir / "home").c_str(), 0700);
  // One SoftHSM folder per use, each with its softhsm2.conf: "src" holds the
  // source token (backups, pkcs11-tool); each restore round gets two new
  // folders of equal content, a copy of the source token plus an empty
  // target, "dst" for the plugin and "raw" for the raw loop.
  auto make_folder = [&](const std::string& name) {
    const fs::path folder = dir / name, conf = dir / (name + ".conf");
    fs::create_directories(folder / "tokens");
    std::ofstream(conf) << "directories.tokendir = " << (folder / "tokens").string() << "/\n"
                        << "objectstore.backend = file\nlog.level = ERROR\n"
                        << "slots.removable = false\nslots.mechanisms = ALL\n"
                        << "library.reset_on_fork = false\n";
    return conf;
  };
  auto use_folder = [](const fs::path& conf) { ::setenv("SOFTHSM2_CONF", conf.c_str(), 1); };
  const fs::path conf_src = make_folder("src");
  use_folder(conf_src);
  ::setenv("HSM_MIGRATE_HOME", (dir / "home").c_str(), 1);
  ::setenv("HSM_MIGRATE_PIN", kPin, 1);
  ::setenv("PKCS11_PIN", kPin, 1);
  ::setenv("HSM_MIGRATE_DOMAIN", "bench-domain", 1);

  utsname u{};
  ::uname(&u);
  std::ifstream load("/proc/loadavg");
  std::string loadavg;
  std::getline(load, loadavg);
  std::printf("bench_pkcs11_plugin: %zu AES-256 keys, %zu for pkcs11-tool; %s %s, %ld cores, load %s\n", n,
              tool_keys, u.sysname, u.release, ::sysconf(_SC_NPROCESSORS_ONLN), loadavg.c_str());
  std::printf("token folders under %s (%s)\n", dir.c_str(),
              dir.string().rfind("/dev/shm", 0) == 0 ? "tmpfs" : "disk");

  // Setup, in this process, then the module is let go: every measured
  // process loads the folder itself.
  auto t_gen = Clock::now();
  {
    make_token("src");
    p11::Session s = login("src");
    const p11::KeyKind aes256 = must(p11::parse_key_kind("aes-256"), "kind");
    for (std::size_t i = 0; i < n; ++i) {
      p11::KeySpec spec;
      char label[32];
      std::snprintf(label, sizeof label, "aes-%05zu", i);
      spec.label = api::Bytes(label, label + std::strlen(label));
      spec.id = {static_cast<std::uint8_t>(i >> 24), static_cast<std::uint8_t>(i >> 16),
                 static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)};
      spec.extractable = true;
      (void)must(p11::generate_secret_key(s, aes256, spec), "C_GenerateKey");
    }
  }
  std::printf("setup: %zu token keys in %.1f s\n", n, since(t_gen));
  run({kBin, "device", "add", "bsrc", "--kind", "pkcs11", "--module", kModule, "--token", "src"});
  run({kBin, "partition", "domain", "add", "bsrc/src", "--label", "bench"});
  // A folder holding a copy of the source token and a new, empty `label`
  // token registered as device `dev` in the bench domain.
  auto restore_folder = [&](const std::string& name, const std::string& label, const std::string& dev) {
    const fs::path conf = make_folder(name);
    for (const auto& e : fs::directory_iterator(dir / "src" / "tokens"))
      fs::copy(e.path(), dir / name / "tokens" / e.path().filename(), fs::copy_options::recursive);
    use_folder(conf);
    make_token(label);
    run({kBin, "device", "add", dev, "--kind", "pkcs11", "--module", kModule, "--token", label});
    run({kBin, "partition", "domain", "add", dev + "/" + label, "--label", "bench"});
    use_folder(conf_src);
    return conf;
  };
  std::string reg;
  run({"cat", (dir / "home" / "devices" / "bsrc" / "token.json").string()}, &reg);
  const std::string kek_id = nlohmann::json::parse(reg)["domains"][0]["fingerprint"];
  const api::Bytes kek_label{'h', 's', 'm', '-', 'm', 'i', 'g', 'r', 'a', 't', 'e', ':', 'd', 'o', 'm', 'a', 'i', 'n'};
  api::Bytes kek_id_bytes;
  for (std::size_t i = 0; i + 1 < kek_id.size(); i += 2)
    kek_id_bytes.push_back(static_cast<std::uint8_t>(std::stoul(kek_id.substr(i, 2), nullptr, 16)));

  // backup vs raw: 3 interleaved rounds.
  const fs::path blob_file = dir / "raw-blobs";
  auto raw_backup = [&] {
    return in_child([&] {
      p11::Session s = login("src");
      auto* fn = s.fn();
      const CK_OBJECT_HANDLE kek = must(p11::find_domain_kek(s, kek_label, kek_id_bytes), "KEK");
      CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
      CK_BBOOL yes = CK_TRUE;
      CK_ATTRIBUTE f[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_EXTRACTABLE, &yes, 1}, {CKA_TOKEN, &yes, 1}};
      std::vector<CK_OBJECT_HANDLE> all;
      fn->C_FindObjectsInit(s.handle(), f, 3);
      CK_OBJECT_HANDLE batch[256];
      for (CK_ULONG got = 0; fn->C_FindObjects(s.handle(), batch, 256, &got) == CKR_OK && got > 0;)
        all.insert(all.end(), batch, batch + got);
      fn->C_FindObjectsFinal(s.handle());
      std::ofstream out(blob_file, std::ios::binary);
      CK_MECHANISM kwp{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
      for (CK_OBJECT_HANDLE h : all) {
        CK_ULONG c = 0, kt = 0;
        CK_BYTE label[64], id[16], b[17];
        std::vector<CK_ATTRIBUTE> t{{CKA_CLASS, &c, sizeof c}, {CKA_KEY_TYPE, &kt, sizeof kt},
                                    {CKA_LABEL, label, sizeof label}, {CKA_ID, id, sizeof id}};
        const CK_ATTRIBUTE_TYPE bools[17] = {CKA_TOKEN,  CKA_PRIVATE, CKA_MODIFIABLE, CKA_LOCAL,  CKA_SENSITIVE,
                                             CKA_ALWAYS_SENSITIVE, CKA_EXTRACTABLE, CKA_NEVER_EXTRACTABLE,
                                             CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN, CKA_VERIFY, CKA_WRAP, CKA_UNWRAP,
                                             CKA_DERIVE, CKA_WRAP_WITH_TRUSTED, CKA_TRUSTED};
        for (int i = 0; i < 17; ++i) t.push_back({bools[i], &b[i], 1});
        if (fn->C_GetAttributeValue(s.handle(), h, t.data(), t.size()) != CKR_OK) std::_Exit(2);
        CK_BYTE blob[64];
        CK_ULONG len = sizeof blob;
        if (fn->C_WrapKey(s.handle(), &kwp, kek, h, blob, &len) != CKR_OK) std::_Exit(3);
        const std::uint8_t idlen = static_cast<std::uint8_t>(t[3].ulValueLen);
        out.put(static_cast<char>(idlen));
        out.write(reinterpret_cast<const char*>(id), idlen);
        out.put(static_cast<char>(len));
        out.write(reinterpret_cast<const char*>(blob), static_cast<std::streamsize>(len));
      }
    });
  };
  const std::string archive = (dir / "bench.hsmar").string();
  std::vector<double> t_backup, t_raw;
  for (int round = 0; round < 5; ++round) {
    t_raw.push_back(raw_backup());
    t_backup.push_back(run({kBin, "--quiet", "backup", "bsrc/src", "--archive", archive, "--force"}));
  }

  // pkcs11-tool, one process per key, over the same KEK.
  std::vector<std::size_t> picks;
  for (std::size_t i = 0; i < tool_keys; ++i) picks.push_back(i * (n / tool_keys));
  const auto t_tool0 = Clock::now();
  for (std::size_t i : picks) {
    char id[16];
    std::snprintf(id, sizeof id, "%08zx", i);
    run({"pkcs11-tool", "--module", kModule, "--token-label", "src", "--login", "--pin", "env:PKCS11_PIN", "--wrap",
         "--mechanism", "0x210A", "--id", kek_id, "--application-id", id, "--output-file", "/dev/null"});
  }
  const double t_tool = since(t_tool0);

  // restores: 3 interleaved rounds, each into new folders (emptying a
  // SoftHSM token of 10,000 objects takes far longer than filling it).
  auto raw_unwrap = [&](const fs::path& conf) {
    return in_child([&] {
      use_folder(conf);
      p11::Session s = login("raw");
      const CK_OBJECT_HANDLE kek = must(p11::find_domain_kek(s, kek_label, kek_id_bytes), "KEK");
      std::ifstream in(blob_file, std::ios::binary);
      CK_MECHANISM kwp{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
      CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
      CK_KEY_TYPE kt = CKK_AES;
      CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
      CK_BYTE label[9] = {'r', 'e', 's', 't', 'o', 'r', 'e', 'd'};
      for (int idlen; (idlen = in.get()) != EOF;) {
        CK_BYTE id[16], blob[64];
        in.read(reinterpret_cast<char*>(id), idlen);
        const int len = in.get();
        in.read(reinterpret_cast<char*>(blob), len);
        CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_KEY_TYPE, &kt, sizeof kt}, {CKA_TOKEN, &yes, 1},
                               {CKA_PRIVATE, &yes, 1},       {CKA_SENSITIVE, &yes, 1},      {CKA_EXTRACTABLE, &yes, 1},
                               {CKA_ENCRYPT, &yes, 1},       {CKA_DECRYPT, &yes, 1},        {CKA_SIGN, &no, 1},
                               {CKA_VERIFY, &no, 1},         {CKA_WRAP, &no, 1},            {CKA_UNWRAP, &no, 1},
                               {CKA_DERIVE, &no, 1},         {CKA_LABEL, label, 8},
                               {CKA_ID, id, static_cast<CK_ULONG>(idlen)}};
        CK_OBJECT_HANDLE h = 0;
        if (s.fn()->C_UnwrapKey(s.handle(), &kwp, kek, blob, static_cast<CK_ULONG>(len), tmpl, std::size(tmpl),
                                &h) != CKR_OK)
          std::_Exit(4);
      }
    });
  };
  std::vector<double> t_raw_unwrap, t_restore;
  for (int round = 0; round < 3; ++round) {
    const std::string r = std::to_string(round);
    const fs::path conf_raw = restore_folder("raw" + r, "raw", "braw" + r);
    const fs::path conf_dst = restore_folder("dst" + r, "dst", "bdst" + r);
    t_raw_unwrap.push_back(raw_unwrap(conf_raw));
    std::string restore_json;
    use_folder(conf_dst);
    t_restore.push_back(run({kBin, "--json", "restore", archive, "--to", "bdst" + r + "/dst"}, &restore_json));
    use_folder(conf_src);
    const auto created = nlohmann::json::parse(restore_json)["counts"]["created"].get<std::size_t>();
    if (created != n) die("the plugin restored " + std::to_string(created) + " objects, not " + std::to_string(n));
    fs::remove_all(dir / ("raw" + r));
    fs::remove_all(dir / ("dst" + r));
  }

  std::printf("\n  %-11s %8s  %11s  %17s\n", "what", "objects", "time", "rate");
  report("raw", n, median(t_raw), "process: init + find + 21 attributes + KWP wrap   (median of 5)");
  report("backup", n, median(t_backup), "`hsm-migrate backup` through the plugin          (median of 5)");
  report("tool", tool_keys, t_tool, "pkcs11-tool --wrap, one process per key");
  report("raw-unwrap", n, median(t_raw_unwrap), "process: init + C_UnwrapKey into token objects (median of 3)");
  report("restore", n, median(t_restore), "`hsm-migrate restore` into token objects        (median of 3)");
  auto rounds = [](const char* name, const std::vector<double>& t) {
    std::printf("  %-11s rounds:", name);
    for (double x : t) std::printf(" %.3f", x);
    std::printf(" s\n");
  };
  rounds("raw", t_raw);
  rounds("backup", t_backup);
  rounds("raw-unwrap", t_raw_unwrap);
  rounds("restore", t_restore);
  const double r_backup = median(t_raw) / median(t_backup);
  const double r_tool = (static_cast<double>(n) / median(t_backup)) / (static_cast<double>(tool_keys) / t_tool);
  const double r_restore = median(t_raw_unwrap) / median(t_restore);
  std::printf("\nbackup / raw = %.2fx (goal >= 0.8)   backup / pkcs11-tool = %.0fx   restore / raw-unwrap = %.2fx "
              "(goal >= 0.9)\n",
              r_backup, r_tool, r_restore);
  fs::remove_all(dir);
  return 0;
}
