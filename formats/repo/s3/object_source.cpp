#include "formats/repo/s3/object_source.hpp"

#include <algorithm>
#include <cstring>

namespace hsm::repo::s3 {

using api::Error;
using api::Result;
using api::Status;

Result<std::unique_ptr<ObjectSource>> ObjectSource::open(Client& client, std::string bucket,
                                                         std::string key,
                                                         ObjectSourceOptions options) {
  HSM_TRY_ASSIGN(ObjectInfo info, client.head_object(bucket, key, options.version_id));
  if (options.version_id.empty()) options.version_id = info.version_id;
  options.read_ahead = std::max<std::size_t>(options.read_ahead, 4096);
  return std::unique_ptr<ObjectSource>(new ObjectSource(client, std::move(bucket), std::move(key),
                                                        std::move(options), std::move(info)));
}

Status ObjectSource::fetch(std::uint64_t offset, std::uint8_t* out, std::size_t n) const {
  ++requests_;
  fetched_ += n;
  // a version id pins the object; without one, its ETag does
  return client_.get_range(bucket_, key_, offset, out, n, options_.version_id,
                           options_.version_id.empty() ? info_.etag : std::string());
}

Status ObjectSource::read_at(std::uint64_t offset, std::uint8_t* out, std::size_t n) const {
  if (offset > info_.size || n > info_.size - offset)
    return Error::other("read past the end of s3://" + bucket_ + "/" + key_ + " (" +
                        std::to_string(offset) + " + " + std::to_string(n) + " > " +
                        std::to_string(info_.size) + ")");
  if (n == 0) return {};
  if (offset >= cache_offset_ && offset + n <= cache_offset_ + cache_.size()) {
    std::memcpy(out, cache_.data() + (offset - cache_offset_), n);
    return {};
  }
  if (n >= options_.read_ahead) return fetch(offset, out, n);
  std::size_t span =
      static_cast<std::size_t>(std::min<std::uint64_t>(options_.read_ahead, info_.size - offset));
  cache_.resize(span);
  if (auto st = fetch(offset, cache_.data(), span); !st.ok()) {
    cache_.clear();
    return st;
  }
  cache_offset_ = offset;
  std::memcpy(out, cache_.data(), n);
  return {};
}

}  // namespace hsm::repo::s3
