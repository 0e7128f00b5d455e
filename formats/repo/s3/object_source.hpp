// The reader side of an archive in S3: a formats::ByteSource over ranged GETs,
// so the archive reader (formats/archive_reader.hpp: trailer first, then
// header, records, index) verifies and restores straight from the bucket
// without downloading the object first or holding it in memory.
//
// open() HEADs the object once; every later read names that version (or,
// in an unversioned bucket, carries If-Match with its ETag), so an object
// replaced between two reads is an integrity error, never a mix of two.
// Reads smaller than the read-ahead fetch read_ahead bytes from that offset
// and serve the following reads from them (the reader reads records
// sequentially, a few bytes at a time); larger reads go straight into the
// caller's buffer. Memory: the read-ahead buffer.
//
// Not thread-safe (read_at is const in the interface; the cache is mutable).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "formats/archive_reader.hpp"
#include "formats/repo/s3/client.hpp"

namespace hsm::repo::s3 {

struct ObjectSourceOptions {
  std::size_t read_ahead = 1u << 20;
  std::string version_id;  // empty: the current version (pinned at open)
};

class ObjectSource final : public formats::ByteSource {
 public:
  // Errors: those of head_object (missing bucket or key: usage; 403: usage).
  static api::Result<std::unique_ptr<ObjectSource>> open(Client& client, std::string bucket,
                                                         std::string key,
                                                         ObjectSourceOptions options = {});
  std::uint64_t size() const override { return info_.size; }
  api::Status read_at(std::uint64_t offset, std::uint8_t* out, std::size_t n) const override;

  const ObjectInfo& info() const { return info_; }
  std::uint64_t requests() const { return requests_; }
  std::uint64_t bytes_fetched() const { return fetched_; }

 private:
  ObjectSource(Client& client, std::string bucket, std::string key, ObjectSourceOptions options,
               ObjectInfo info)
      : client_(client),
        bucket_(std::move(bucket)),
        key_(std::move(key)),
        options_(std::move(options)),
        info_(std::move(info)) {}
  api::Status fetch(std::uint64_t offset, std::uint8_t* out, std::size_t n) const;

  Client& client_;
  std::string bucket_, key_;
  ObjectSourceOptions options_;
  ObjectInfo info_;
  mutable std::vector<std::uint8_t> cache_;
  mutable std::uint64_t cache_offset_ = 0;
  mutable std::uint64_t requests_ = 0;
  mutable std::uint64_t fetched_ = 0;
};

}  // namespace hsm::repo::s3
