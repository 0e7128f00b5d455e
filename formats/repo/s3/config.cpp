#include "formats/repo/s3/config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string_view>

namespace hsm::repo::s3 {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// The AWS ini dialect: [section], `key = value`, comments (# ;), and one
// level of nesting (`s3 =` then indented `addressing_style = path`, stored as
// "s3.addressing_style"). Values are views into the file's bytes.
using Section = std::map<std::string, std::string_view>;
using Ini = std::map<std::string, Section>;

Ini parse_ini(std::string_view text) {
  Ini ini;
  Section* section = nullptr;
  std::string parent;
  while (!text.empty()) {
    std::size_t eol = text.find('\n');
    std::string_view raw = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    bool indented = !raw.empty() && (raw.front() == ' ' || raw.front() == '\t');
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = &ini[std::string(trim(line.substr(1, line.size() - 2)))];
      parent.clear();
      continue;
    }
    std::size_t eq = line.find('=');
    if (!section || eq == std::string_view::npos) continue;
    std::string key(trim(line.substr(0, eq)));
    std::string_view value = trim(line.substr(eq + 1));
    if (indented && !parent.empty()) {
      (*section)[parent + "." + key] = value;
    } else {
      parent = value.empty() ? key : std::string();
      (*section)[key] = value;
    }
  }
  return ini;
}

struct FileBytes {
  api::SecretBytes bytes;  // credentials files hold secrets: wiped memory
  mode_t mode = 0;
  std::string_view text() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
};

// nullopt: the file does not exist. Errors: other (unreadable, too big).
Result<std::optional<FileBytes>> read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<FileBytes>();
    return Error::other("cannot read " + path + ": " + std::strerror(errno));
  }
  FileBytes f;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 20)) {
    ::close(fd);
    return Error::usage(path + " is not a regular file of at most 1 MiB");
  }
  f.mode = st.st_mode;
  f.bytes.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < f.bytes.size()) {
    ssize_t n = ::read(fd, f.bytes.data() + got, f.bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  f.bytes.resize(got);
  return std::optional<FileBytes>(std::move(f));
}

const char* nonempty(const EnvLookup& env, const char* name) {
  const char* v = env(name);
  return v && *v ? v : nullptr;
}

std::string home_file(const EnvLookup& env, const char* override_var, const char* name) {
  if (const char* p = nonempty(env, override_var)) return p;
  const char* home = nonempty(env, "HOME");
  return std::string(home ? home : "") + "/.aws/" + name;
}

const std::string_view* find(const Ini& ini, const std::string& section, const std::string& key) {
  auto s = ini.find(section);
  if (s == ini.end()) return nullptr;
  auto k = s->second.find(key);
  return k == s->second.end() ? nullptr : &k->second;
}

Status credentials_from_file(const EnvLookup& env, const std::string& profile,
                             bool explicit_profile, Credentials& out) {
  const std::string path = home_file(env, "AWS_SHARED_CREDENTIALS_FILE", "credentials");
  HSM_TRY_ASSIGN(auto file, read_file(path));
  const std::string where = "profile '" + profile + "' in " + path;
  if (!file) {
    if (explicit_profile)
      return Error::usage("no S3 credentials: " + path + " does not exist (" + where + ")",
                          "create it, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    return Error::usage(
        "no S3 credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set and " + path +
            " does not exist",
        "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with a credentials file "
        "(AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials)");
  }
  if (file->mode & 077) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(file->mode & 07777));
    return Error::usage(
        "the S3 credentials file " + path + " is accessible to group or others (mode " + mode + ")",
        "chmod 600 " + path);
  }
  Ini ini = parse_ini(file->text());
  if (!ini.count(profile))
    return Error::usage("no S3 credentials: no [" + profile + "] in " + path,
                        "add the profile, or set AWS_PROFILE to one that " + path + " has");
  const auto* id = find(ini, profile, "aws_access_key_id");
  const auto* secret = find(ini, profile, "aws_secret_access_key");
  if (!id || id->empty() || !secret || secret->empty())
    return Error::usage("S3 credentials incomplete: " + where +
                        " needs both aws_access_key_id and aws_secret_access_key");
  out.access_key_id = std::string(*id);
  out.secret_access_key.assign(secret->begin(), secret->end());
  if (const auto* token = find(ini, profile, "aws_session_token"))
    out.session_token.assign(token->begin(), token->end());
  out.source = where;
  return {};
}

Status credentials_from(const ConfigOptions& options, const EnvLookup& env, Credentials& out) {
  if (options.profile.empty()) {
    const char* id = nonempty(env, "AWS_ACCESS_KEY_ID");
    const char* secret = nonempty(env, "AWS_SECRET_ACCESS_KEY");
    if (id || secret) {
      if (!id || !secret)
        return Error::usage(std::string("S3 credentials incomplete: ") +
                                (id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID") +
                                " is not set",
                            "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
      out.access_key_id = id;
      out.secret_access_key.assign(secret, secret + std::strlen(secret));
      if (const char* token = nonempty(env, "AWS_SESSION_TOKEN"))
        out.session_token.assign(token, token + std::strlen(token));
      out.source = "environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY";
      return {};
    }
  }
  const char* env_profile = nonempty(env, "AWS_PROFILE");
  const std::string profile = !options.profile.empty() ? options.profile
                              : env_profile            ? env_profile
                                                       : "default";
  return credentials_from_file(env, profile, !options.profile.empty() || env_profile, out);
}

}  // namespace

EnvLookup process_environment() {
  return [](const char* name) -> const char* { return std::getenv(name); };
}

Result<Endpoint> parse_endpoint(std::string_view url) {
  Endpoint e;
  std::string_view rest;
  if (url.rfind("https://", 0) == 0) {
    e.scheme = "https";
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    e.scheme = "http";
    rest = url.substr(7);
  } else {
    return Error::usage("S3 endpoint '" + std::string(url) + "' is not an http:// or https:// URL",
                        "give e.g. https://s3.example.com or http://127.0.0.1:7480");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  bool ok = !rest.empty();
  for (char c : rest)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
                c == '[' || c == ']');
  if (!ok)
    return Error::usage("S3 endpoint '" + std::string(url) +
                            "' must be scheme://host[:port] with no path, user or query",
                        "give e.g. https://s3.example.com or http://127.0.0.1:7480");
  e.host = std::string(rest);
  return e;
}

Result<S3Config> load_config(const ConfigOptions& options, const EnvLookup& env) {
  S3Config c;
  const char* env_profile = nonempty(env, "AWS_PROFILE");
  const std::string profile = !options.profile.empty() ? options.profile
                              : env_profile            ? env_profile
                                                       : "default";
  // The config file is optional and holds no secret.
  const std::string config_path = home_file(env, "AWS_CONFIG_FILE", "config");
  HSM_TRY_ASSIGN(auto config_file, read_file(config_path));
  Ini config = config_file ? parse_ini(config_file->text()) : Ini{};
  const std::string section = profile == "default" ? "default" : "profile " + profile;
  auto from_config = [&](const char* key) -> std::string {
    const auto* v = find(config, section, key);
    return v ? std::string(*v) : std::string();
  };

  if (!options.region.empty()) {
    c.region = options.region;
  } else if (const char* r = nonempty(env, "AWS_REGION")) {
    c.region = r;
  } else if (const char* r2 = nonempty(env, "AWS_DEFAULT_REGION")) {
    c.region = r2;
  } else {
    c.region = from_config("region");
    if (c.region.empty()) c.region = "us-east-1";
  }

  std::string url;
  if (!options.endpoint.empty()) {
    url = options.endpoint;
    c.endpoint_source = "--s3-endpoint";
  } else if (const char* u = nonempty(env, "AWS_ENDPOINT_URL_S3")) {
    url = u;
    c.endpoint_source = "AWS_ENDPOINT_URL_S3";
  } else if (const char* u2 = nonempty(env, "AWS_ENDPOINT_URL")) {
    url = u2;
    c.endpoint_source = "AWS_ENDPOINT_URL";
  } else if (std::string u3 = from_config("s3.endpoint_url"); !u3.empty()) {
    url = u3;
    c.endpoint_source = "s3.endpoint_url of " + section + " in " + config_path;
  } else if (std::string u4 = from_config("endpoint_url"); !u4.empty()) {
    url = u4;
    c.endpoint_source = "endpoint_url of " + section + " in " + config_path;
  }
  const bool custom = !url.empty();
  if (!custom) {
    url = "https://s3." + c.region + ".amazonaws.com";
    c.endpoint_source = "AWS default for region " + c.region;
  }
  HSM_TRY_ASSIGN(c.endpoint, parse_endpoint(url));

  if (options.addressing) {
    c.addressing = *options.addressing;
  } else {
    std::string style = from_config("s3.addressing_style");
    if (style == "path") {
      c.addressing = Addressing::path;
    } else if (style == "virtual") {
      c.addressing = Addressing::virtual_host;
    } else if (style.empty() || style == "auto") {
      c.addressing = custom ? Addressing::path : Addressing::virtual_host;
    } else {
      return Error::usage(
          "s3.addressing_style '" + style + "' in " + config_path + " is not path, virtual or auto",
          "set it to path or virtual");
    }
  }

  if (const char* ca = nonempty(env, "AWS_CA_BUNDLE")) {
    c.ca_bundle = ca;
  } else {
    c.ca_bundle = from_config("ca_bundle");
  }

  HSM_TRY(credentials_from(options, env, c.credentials));
  return c;
}

}  // namespace hsm::repo::s3
