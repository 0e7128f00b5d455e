// Archives in S3 repositories as the tool sees them (man hsm-migrate,
// "REPOSITORIES"; the library and the key layout: formats/repo/README.md).
// Wherever an archive path or folder is accepted, an s3://BUCKET/KEY address
// works too:
//   s3://BUCKET/PREFIX/          a repository (a prefix ending in '/', or the
//                                bucket alone): backup names the object by
//                                the layout PREFIX/<device>/<partition>/
//                                <UTC time>-<archive id>.hsmar; a reader takes
//                                the newest archive under it (it must hold
//                                one partition's archives only);
//   s3://BUCKET/KEY              one archive; for backup the key may hold a
//                                strftime template (UTC), as a path does.
// The endpoint, region and credentials come from the AWS places
// (formats/repo/s3/config.hpp) or --s3-endpoint; never a secret on the
// command line.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "formats/archive_reader.hpp"
#include "formats/repo/layout.hpp"
#include "formats/repo/s3/address.hpp"
#include "formats/repo/s3/client.hpp"
#include "formats/repo/s3/upload_sink.hpp"
#include "tool/context.hpp"

namespace hsm::tool {

// What a command gets from its options about repositories.
struct RepoOptions {
  std::string s3_endpoint;  // --s3-endpoint URL; empty: the AWS places
};

// The option every archive command takes (a sentence for --help).
void add_repo_options(po::options_description& desc);
RepoOptions repo_options_of(const po::variables_map& vm);

bool is_s3(const std::string& archive);
// A repository (a prefix) rather than one archive: an empty key or one
// ending in '/'.
bool is_repository_prefix(const repo::s3::S3Address& a);

// A client for the address's endpoint (config, credentials, the test fault
// hook HSM_MIGRATE_S3_FAULT). Errors: usage (configuration), other.
api::Result<std::unique_ptr<repo::s3::Client>> open_s3_client(const RepoOptions& options);

// Upload options from HSM_MIGRATE_S3_PART_SIZE (bytes, or with a K or M
// suffix for KiB/MiB; default 8 MiB; below S3's 5 MiB only for a server
// that takes it, such as the test gateway). Errors: usage.
api::Result<repo::s3::UploadSinkOptions> upload_options_from_env();

// A key of the layout, wherever it sits: PREFIX/<device>/<partition>/<time>-<id>.hsmar
// under any prefix (the last three segments parse). nullopt otherwise.
std::optional<repo::ArchiveKey> parse_layout_key(const std::string& key);

// One archive object of a repository listing.
struct RepoArchive {
  std::string key;
  std::string version_id;
  std::uint64_t size = 0;
  std::int64_t last_modified = 0;
  std::optional<repo::ArchiveKey> layout;  // when the key follows the layout
};
// The current versions under the prefix (delete markers hide a key).
api::Result<std::vector<RepoArchive>> list_repository(repo::s3::Client& client, const repo::s3::S3Address& where);

// An archive to read: a local file, or an S3 object read with ranged GETs.
struct OpenedArchive {
  std::unique_ptr<repo::s3::Client> client;    // S3 only; outlives `source`
  std::unique_ptr<formats::ByteSource> remote;  // S3 only: the ObjectSource
  std::unique_ptr<formats::ByteSource> source;  // a file, or the spool over `remote`
  // What the reader reads.
  const formats::ByteSource& reader() const { return source ? *source : *remote; }
  std::string name;                             // the path, or s3://BUCKET/KEY
  json location;                                // S3 only: bucket, key, version, size, requests
  // Fills `location` with the request count and bytes fetched so far.
  void note_traffic();
};
// `spool`: a reader that reads the archive twice (restore, drill, deep
// verify: verify first, then yield) keeps the bytes it fetched in an unnamed
// scratch file in TMPDIR and reads them again from there, so the object is
// downloaded once and never held in memory. Errors: as the reader's, usage
// (a prefix holding several partitions' archives, or none).
api::Result<OpenedArchive> open_archive(const RepoOptions& options, const std::string& archive, bool spool);

// The key a prefix address resolves to: the newest archive under it.
api::Result<RepoArchive> newest_archive(repo::s3::Client& client, const repo::s3::S3Address& where);

}  // namespace hsm::tool
