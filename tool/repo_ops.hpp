// Repositories as operations (man hsm-migrate, "REPOSITORIES", "repo init",
// "archive list", "prune"): create an S3 bucket with Object Lock, list the
// archives of a folder or an S3 prefix (the listing is the catalogue), and
// prune an S3 prefix. Nothing here prints: the commands print the documents.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "formats/archive_reader.hpp"
#include "formats/repo/s3/types.hpp"
#include "tool/prune_ops.hpp"
#include "tool/repo_s3.hpp"

namespace hsm::tool {

struct RepoInitRequest {
  std::string address;  // s3://BUCKET[/PREFIX]
  RepoOptions repo;
  repo::s3::LockMode mode = repo::s3::LockMode::governance;
  int days = 0;  // > 0
};
// Creates the bucket with Object Lock and the default retention, then reads
// the configuration back. Errors: usage (bad address, days out of range, the
// bucket exists: its retention is never changed), other.
api::Result<json> run_repo_init(const RepoInitRequest& req);

// One archive of a folder or of an S3 prefix, and what verifying it said.
struct CatalogueEntry {
  std::string name;        // file name in the folder, or the S3 key
  std::string version_id;  // S3 only
  std::uint64_t size = 0;
  std::int64_t modified = 0;
  // verified: checked and trusted; untrusted: checked, another root;
  // damaged: does not verify; not_archive: none of ours; unchecked: --no-verify
  std::string status;
  std::string reason;  // damaged / not_archive / untrusted: why
  std::optional<formats::ArchiveHeader> header;
  std::optional<formats::VerifyReport> report;  // when verified (or untrusted)
  std::optional<repo::s3::Retention> retention;  // S3 Object Lock, as HEAD says
};

struct ListRequest {
  std::string where;  // a folder, or s3://BUCKET[/PREFIX]
  RepoOptions repo;
  std::vector<std::string> trusted_roots;
  bool verify = true;  // false: headers only (no object count, no verdict)
};
struct ListOutcome {
  json doc;
  std::size_t damaged = 0;  // damaged or untrusted: the command exits 4
};
api::Result<ListOutcome> run_archive_list(Context& ctx, const ListRequest& req);

// Reads every archive under an S3 prefix (current versions), verifying each
// streamed with ranged GETs, pinned to its version. Shared by list and prune.
api::Result<std::vector<CatalogueEntry>> examine_s3(repo::s3::Client& client, const repo::s3::S3Address& where,
                                                    const formats::VerifyOptions& vopt, bool verify);

// prune of an S3 prefix (tool/repo_prune.cpp): the same rules as for a
// folder (prune_ops.hpp), plus Object Lock: kept archives get their
// retention extended to now + the bucket's default period; the others are
// deleted by version id, and one still locked is reported "locked until
// DATE" (not an error); the tool's own pending multipart uploads older than
// req.stale_uploads are aborted.
api::Result<PruneOutcome> run_prune_s3(Context& ctx, const PruneRequest& req);

// "repo init", "archive list", "archive show" (tool/commands/repo_commands.cpp).
void add_repo_commands(std::vector<Command>& out);

}  // namespace hsm::tool
