// S3 repositories as the tool sees them (see repo_s3.hpp).
#include "tool/repo_s3.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>

#include "formats/repo/s3/fault_env.hpp"
#include "formats/repo/s3/object_source.hpp"

namespace hsm::tool {

using api::Error;
using api::Result;
using api::Status;
namespace s3 = repo::s3;

namespace {

// The bytes a two-pass reader fetched, kept in an unnamed scratch file
// (O_TMPFILE in TMPDIR: it vanishes with the process, even on SIGKILL), so
// the second pass reads them from disk instead of the bucket. The intervals
// held are few (the trailer, then one growing run), merged as they come.
class SpoolSource final : public formats::ByteSource {
 public:
  static Result<std::unique_ptr<SpoolSource>> open(const formats::ByteSource& remote) {
    const char* t = std::getenv("TMPDIR");
    const std::string folder = t && *t ? t : "/tmp";
    int fd = ::open(folder.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
      std::string tmpl = folder + "/.hsm-migrate-spool.tmp-XXXXXX";
      fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
      if (fd < 0)
        return Error{api::ErrorKind::other,
                     "cannot create a scratch file in " + folder + " (TMPDIR): " + std::strerror(errno),
                     {}, {}, "set TMPDIR to a folder with room for the archive"};
      ::unlink(tmpl.c_str());
    }
    return std::unique_ptr<SpoolSource>(new SpoolSource(remote, fd, folder));
  }
  ~SpoolSource() override { ::close(fd_); }
  std::uint64_t size() const override { return remote_.size(); }
  Status read_at(std::uint64_t offset, std::uint8_t* out, std::size_t n) const override {
    if (covered(offset, n)) return pread_all(offset, out, n);
    HSM_TRY(remote_.read_at(offset, out, n));
    for (std::size_t done = 0; done < n;) {
      const ssize_t w = ::pwrite(fd_, out + done, n - done, static_cast<off_t>(offset + done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return Error::other("writing the scratch file in " + folder_ + ": " + std::strerror(errno));
      done += static_cast<std::size_t>(w);
    }
    add(offset, offset + n);
    return {};
  }

 private:
  SpoolSource(const formats::ByteSource& remote, int fd, std::string folder)
      : remote_(remote), fd_(fd), folder_(std::move(folder)) {}
  bool covered(std::uint64_t a, std::size_t n) const {
    for (auto it = have_.rbegin(); it != have_.rend(); ++it)
      if (it->first <= a && a + n <= it->second) return true;
    return false;
  }
  void add(std::uint64_t a, std::uint64_t b) const {
    for (auto& iv : have_)
      if (a <= iv.second && b >= iv.first) {
        iv.first = std::min(iv.first, a);
        iv.second = std::max(iv.second, b);
        return;
      }
    have_.emplace_back(a, b);
  }
  Status pread_all(std::uint64_t offset, std::uint8_t* out, std::size_t n) const {
    for (std::size_t done = 0; done < n;) {
      const ssize_t r = ::pread(fd_, out + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return Error::other("reading the scratch file in " + folder_ + ": " + std::strerror(errno));
      done += static_cast<std::size_t>(r);
    }
    return {};
  }
  const formats::ByteSource& remote_;
  int fd_;
  std::string folder_;
  mutable std::vector<std::pair<std::uint64_t, std::uint64_t>> have_;
};

std::string address_of(const std::string& bucket, const std::string& key) { return "s3://" + bucket + "/" + key; }

}  // namespace

void add_repo_options(po::options_description& desc) {
  desc.add_options()("s3-endpoint", po::value<std::string>(),
                     "for s3:// addresses: the S3 endpoint URL (http(s)://HOST[:PORT]); default AWS_ENDPOINT_URL_S3, "
                     "AWS_ENDPOINT_URL, the profile's endpoint_url, else AWS; credentials never go on the command line");
}

RepoOptions repo_options_of(const po::variables_map& vm) {
  RepoOptions o;
  if (vm.count("s3-endpoint")) o.s3_endpoint = vm["s3-endpoint"].as<std::string>();
  return o;
}

bool is_s3(const std::string& archive) { return s3::is_s3_address(archive); }

bool is_repository_prefix(const s3::S3Address& a) { return a.key.empty() || a.key.back() == '/'; }

Result<std::unique_ptr<s3::Client>> open_s3_client(const RepoOptions& options) {
  s3::ConfigOptions co;
  co.endpoint = options.s3_endpoint;
  HSM_TRY_ASSIGN(s3::S3Config config, s3::load_config(co));
  s3::HttpOptions ho;
  HSM_TRY_ASSIGN(ho.fault, s3::fault_hook_from_env());
  return s3::Client::create(std::move(config), std::move(ho));
}

Result<s3::UploadSinkOptions> upload_options_from_env() {
  s3::UploadSinkOptions o;
  const char* v = std::getenv("HSM_MIGRATE_S3_PART_SIZE");
  if (!v || !*v) return o;
  char* end = nullptr;
  const unsigned long long n = std::strtoull(v, &end, 10);
  std::uint64_t mult = 1;
  if (end && (*end == 'K' || *end == 'k')) mult = 1024, ++end;
  else if (end && (*end == 'M' || *end == 'm')) mult = 1024 * 1024, ++end;
  if (!end || *end != '\0' || n == 0 || n * mult < 4096 || n * mult > s3::kMaxPartSize)
    return Error::usage(std::string("HSM_MIGRATE_S3_PART_SIZE=\"") + v + "\" is not a part size",
                        "give bytes, or KiB/MiB with a K or M suffix: 8M is the default, 5M the S3 minimum");
  o.part_size = static_cast<std::size_t>(n * mult);
  o.allow_small_parts = o.part_size < s3::kMinPartSize;
  return o;
}

std::optional<repo::ArchiveKey> parse_layout_key(const std::string& key) {
  // PREFIX/<device>/<partition>/<name>: cut the last three segments off.
  std::size_t cut = key.size();
  for (int i = 0; i < 3; ++i) {
    if (cut == 0) return std::nullopt;
    cut = key.rfind('/', cut - 1);
    if (cut == std::string::npos) {
      if (i < 2) return std::nullopt;
      return repo::parse_archive_key("", key);
    }
  }
  return repo::parse_archive_key(key.substr(0, cut + 1), key);
}

Result<std::vector<RepoArchive>> list_repository(s3::Client& client, const s3::S3Address& where) {
  HSM_TRY_ASSIGN(std::vector<s3::ObjectVersion> versions, client.list_object_versions(where.bucket, where.key));
  std::vector<RepoArchive> out;
  for (const auto& v : versions) {
    if (!v.is_latest || v.delete_marker) continue;
    RepoArchive a;
    a.key = v.key;
    a.version_id = v.version_id == "null" ? "" : v.version_id;
    a.size = v.size;
    a.last_modified = v.last_modified;
    a.layout = parse_layout_key(v.key);
    out.push_back(std::move(a));
  }
  std::sort(out.begin(), out.end(), [](const RepoArchive& a, const RepoArchive& b) { return a.key < b.key; });
  return out;
}

Result<RepoArchive> newest_archive(s3::Client& client, const s3::S3Address& where) {
  HSM_TRY_ASSIGN(std::vector<RepoArchive> all, list_repository(client, where));
  std::set<std::string> series;
  const RepoArchive* best = nullptr;
  for (const auto& a : all) {
    if (!a.layout) continue;
    series.insert(a.layout->device + "/" + a.layout->partition);
    if (!best || a.layout->created_at > best->layout->created_at ||
        (a.layout->created_at == best->layout->created_at && a.last_modified > best->last_modified))
      best = &a;
  }
  if (!best)
    return Error::usage("no archive under " + where.to_string() + " (no key of the layout DEVICE/PARTITION/TIME-ID.hsmar)",
                        "list it with `hsm-migrate archive list " + where.to_string() + "`, or give an archive's key");
  if (series.size() > 1) {
    std::string names;
    for (const auto& s : series) names += (names.empty() ? "" : ", ") + s;
    std::string p = where.key;
    if (!p.empty() && p.back() != '/') p += '/';
    return Error::usage(where.to_string() + " holds archives of " + std::to_string(series.size()) +
                            " partitions (" + names + "): which newest one is meant is ambiguous",
                        "name one partition's prefix, e.g. s3://" + where.bucket + "/" + p + *series.begin() + "/");
  }
  return *best;
}

void OpenedArchive::note_traffic() {
  if (!remote) return;
  const auto* o = static_cast<const s3::ObjectSource*>(remote.get());
  location["get_requests"] = o->requests();
  location["bytes_fetched"] = o->bytes_fetched();
}

Result<OpenedArchive> open_archive(const RepoOptions& options, const std::string& archive, bool spool) {
  OpenedArchive out;
  if (!is_s3(archive)) {
    HSM_TRY_ASSIGN(auto file, formats::FileSource::open(archive));
    out.source = std::move(file);
    out.name = archive;
    return out;
  }
  HSM_TRY_ASSIGN(s3::S3Address a, s3::parse_s3_address(archive));
  HSM_TRY_ASSIGN(out.client, open_s3_client(options));
  s3::ObjectSourceOptions so;
  if (is_repository_prefix(a)) {
    HSM_TRY_ASSIGN(RepoArchive newest, newest_archive(*out.client, a));
    a.key = newest.key;
    so.version_id = newest.version_id;
  }
  HSM_TRY_ASSIGN(auto obj, s3::ObjectSource::open(*out.client, a.bucket, a.key, so));
  out.name = address_of(a.bucket, a.key);
  out.location = json{{"bucket", a.bucket},
                      {"key", a.key},
                      {"version_id", obj->info().version_id},
                      {"size", obj->info().size},
                      {"etag", obj->info().etag},
                      {"endpoint", out.client->config().endpoint.url()}};
  if (obj->info().retention)
    out.location["retention"] = json{{"mode", std::string(s3::to_string(obj->info().retention->mode))},
                                     {"until", s3::iso8601(obj->info().retention->retain_until)}};
  out.remote = std::move(obj);
  if (spool) {
    HSM_TRY_ASSIGN(auto sp, SpoolSource::open(*out.remote));
    out.source = std::move(sp);
  }
  return out;
}

}  // namespace hsm::tool
