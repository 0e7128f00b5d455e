#include "tool/secrets.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sodium.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

namespace hsm::tool {

using api::Error;
using api::Result;
using api::Status;
using api::SecretBytes;

namespace {

void strip_newline(SecretBytes& s) {
  if (!s.empty() && s.back() == '\n') s.pop_back();
  if (!s.empty() && s.back() == '\r') s.pop_back();
}

Result<SecretBytes> prompt(const std::string& question) {
  if (!::isatty(STDIN_FILENO)) return Error::usage("no terminal to prompt on");
  std::cerr << question << std::flush;
  termios old{};
  ::tcgetattr(STDIN_FILENO, &old);
  termios quiet = old;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  SecretBytes out;
  char c;
  while (::read(STDIN_FILENO, &c, 1) == 1 && c != '\n') out.push_back(static_cast<std::uint8_t>(c));
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
  std::cerr << "\n";
  sodium_memzero(&c, 1);
  return out;
}

}  // namespace

Status check_private_file(int fd, const std::string& path, const std::string& what) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Error::other("cannot stat " + what + " file " + path + ": " + std::strerror(errno));
  // As ssh does with a private key: a secret others can read is refused. (A
  // pipe, as from <(...), is private to the process and passes.)
  if (S_ISREG(st.st_mode) && (st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Error::usage(what + " file " + path + " has mode " + mode + ": it is readable or writable by others",
                        "chmod 600 " + path);
  }
  return {};
}

Result<SecretBytes> read_secret_file(const std::string& path, const std::string& what) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Error::usage("cannot read " + what + " file " + path + ": " + std::strerror(errno));
  if (auto s = check_private_file(fd, path, what); !s.ok()) {
    ::close(fd);
    return s.error();
  }
  SecretBytes out(256);
  std::size_t off = 0;
  for (;;) {
    if (off == out.size()) {
      if (out.size() >= (1u << 20)) {
        ::close(fd);
        return Error::usage(what + " file " + path + " is larger than 1 MiB");
      }
      out.resize(out.size() * 2);
    }
    ssize_t n = ::read(fd, out.data() + off, out.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    off += static_cast<std::size_t>(n);
  }
  ::close(fd);
  out.resize(off);
  strip_newline(out);
  if (out.empty()) return Error::usage(what + " file " + path + " is empty");
  return out;
}

namespace {
std::string& pin_command() {
  static std::string c;
  return c;
}
}  // namespace

void set_pin_command(const std::string& command) { pin_command() = command; }

Result<SecretBytes> run_secret_command(const std::string& command, const std::string& what,
                                       const std::string& for_address) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return Error::other("cannot run the " + what + " command: " + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(out[0]);
    ::close(out[1]);
    return Error::other("cannot run the " + what + " command: " + std::strerror(errno));
  }
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::setenv("HSM_MIGRATE_PIN_FOR", for_address.c_str(), 1);
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  SecretBytes secret;
  std::uint8_t buf[512];
  bool too_big = false;
  for (;;) {
    const ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (secret.size() + static_cast<std::size_t>(n) > (1u << 20)) too_big = true;
    else secret.insert(secret.end(), buf, buf + n);
  }
  sodium_memzero(buf, sizeof buf);
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return Error::usage("the " + what + " command failed (" +
                            (WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                               : "signal " + std::to_string(WTERMSIG(status))) +
                            ")",
                        "check the command given with --pin-command or HSM_MIGRATE_PIN_COMMAND");
  if (too_big) return Error::usage("the " + what + " command printed more than 1 MiB");
  strip_newline(secret);
  if (secret.empty()) return Error::usage("the " + what + " command printed nothing");
  return secret;
}

Result<SecretBytes> partition_pin(const std::string& pin_file, const std::string& address) {
  if (!pin_file.empty()) return read_secret_file(pin_file, "PIN");
  if (!pin_command().empty()) return run_secret_command(pin_command(), "PIN", address);
  if (const char* env = std::getenv("HSM_MIGRATE_PIN"); env && *env) return api::secret_from(env);
  if (const char* cmd = std::getenv("HSM_MIGRATE_PIN_COMMAND"); cmd && *cmd)
    return run_secret_command(cmd, "PIN", address);
  auto p = prompt("PIN for " + address + ": ");
  if (p.ok()) return p;
  return Error::usage("the PIN for " + address + " is needed",
                      "set HSM_MIGRATE_PIN or HSM_MIGRATE_PIN_COMMAND, pass --pin-file FILE or --pin-command CMD, "
                      "or run on a terminal");
}

Result<api::DomainSecret> domain_secret(const std::string& domain_file, const std::string& ped_key,
                                        const std::string& label) {
  api::DomainSecret d;
  d.label = label;
  if (!domain_file.empty() && !ped_key.empty())
    return Error::usage("give either --domain-file or --ped-key, not both");
  if (!ped_key.empty()) {
    d.kind = api::DomainKind::ped;
    int fd = ::open(ped_key.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd >= 0) {
      // A new PED key: a random domain secret, as a PED would issue.
      d.secret.resize(32);
      randombytes_buf(d.secret.data(), d.secret.size());
      bool ok = ::write(fd, d.secret.data(), d.secret.size()) == 32 && ::fsync(fd) == 0;
      ::close(fd);
      if (!ok) {
        ::unlink(ped_key.c_str());
        return Error::other("cannot write PED key " + ped_key);
      }
      return d;
    }
    if (errno != EEXIST) return Error::usage("cannot create PED key " + ped_key + ": " + std::strerror(errno));
    int rfd = ::open(ped_key.c_str(), O_RDONLY | O_CLOEXEC);
    if (rfd >= 0) {
      if (auto s = check_private_file(rfd, ped_key, "PED key"); !s.ok()) {
        ::close(rfd);
        return s.error();
      }
    }
    d.secret.resize(64);
    ssize_t n = rfd >= 0 ? ::read(rfd, d.secret.data(), d.secret.size()) : -1;
    if (rfd >= 0) ::close(rfd);
    if (n != 32) return Error::usage("PED key " + ped_key + " does not hold a 32-byte secret");
    d.secret.resize(32);
    return d;
  }
  d.kind = api::DomainKind::text;
  if (!domain_file.empty()) {
    HSM_TRY_ASSIGN(d.secret, read_secret_file(domain_file, "domain"));
    return d;
  }
  if (const char* env = std::getenv("HSM_MIGRATE_DOMAIN"); env && *env) {
    d.secret = api::secret_from(env);
    return d;
  }
  auto p = prompt("Cloning domain: ");
  if (p.ok() && !p->empty()) {
    d.secret = std::move(p).value();
    return d;
  }
  return Error::usage("a cloning domain is needed",
                      "pass --domain-file FILE or --ped-key FILE, or set HSM_MIGRATE_DOMAIN");
}

}  // namespace hsm::tool
