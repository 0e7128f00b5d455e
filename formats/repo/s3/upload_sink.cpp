#include "formats/repo/s3/upload_sink.hpp"

#include <cctype>
#include <cstring>

#include "formats/repo/s3/address.hpp"

namespace hsm::repo::s3 {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

using api::Error;
using api::Result;
using api::Status;

UploadSink::UploadSink(Client& client, std::string bucket, std::string key,
                       UploadSinkOptions options)
    : client_(client), bucket_(std::move(bucket)), key_(std::move(key)), options_(options) {}

UploadSink::~UploadSink() {
  abort();
}

Result<std::unique_ptr<UploadSink>> UploadSink::open(Client& client, std::string bucket,
                                                     std::string key, UploadSinkOptions options) {
  HSM_TRY(check_bucket_name(bucket));
  HSM_TRY(check_key(key));
  if (key.empty()) return Error::usage("an S3 object needs a key: s3://" + bucket + "/KEY");
  const std::size_t min_part = options.allow_small_parts ? std::size_t{4096} : kMinPartSize;
  if (options.part_size < min_part || options.part_size > kMaxPartSize)
    return Error::usage("S3 part size " + std::to_string(options.part_size) +
                        " bytes: S3 takes 5 MiB to 5 GiB");
  HSM_TRY(client.head_bucket(bucket));
  return std::unique_ptr<UploadSink>(
      new UploadSink(client, std::move(bucket), std::move(key), options));
}

Error UploadSink::fail(Error e) {
  abort();
  failed_ = e;
  return e;
}

Status UploadSink::flush_part() {
  if (parts_.size() >= static_cast<std::size_t>(kMaxParts))
    return Error::usage("s3://" + bucket_ + "/" + key_ + " would need more than 10,000 parts of " +
                            std::to_string(options_.part_size) + " bytes",
                        "use a larger part size");
  if (upload_id_.empty()) {
    HSM_TRY_ASSIGN(upload_id_, client_.create_multipart_upload(bucket_, key_));
  }
  const int number = static_cast<int>(parts_.size()) + 1;
  HSM_TRY_ASSIGN(CompletedPart part, client_.upload_part(bucket_, key_, upload_id_, number,
                                                         buffer_.data(), buffer_.size()));
  auto m = md5(buffer_.data(), buffer_.size());
  part_md5s_.append(reinterpret_cast<const char*>(m.data()), m.size());
  parts_.push_back(std::move(part));
  buffer_.clear();
  return {};
}

Status UploadSink::write(const void* data, std::size_t size) {
  if (failed_) return *failed_;
  if (done_)
    return Error::other("write to s3://" + bucket_ + "/" + key_ + " after commit or abort");
  auto* p = static_cast<const std::uint8_t*>(data);
  sha256_.update(p, size);
  written_ += size;
  while (size) {
    if (buffer_.capacity() < options_.part_size) buffer_.reserve(options_.part_size);
    std::size_t k = std::min(size, options_.part_size - buffer_.size());
    buffer_.insert(buffer_.end(), p, p + k);
    p += k;
    size -= k;
    if (buffer_.size() == options_.part_size)
      if (auto st = flush_part(); !st.ok()) return fail(st.error());
  }
  return {};
}

Result<UploadSummary> UploadSink::commit() {
  if (failed_) return *failed_;
  if (done_)
    return Error::other("commit of s3://" + bucket_ + "/" + key_ + " after commit or abort");
  UploadSummary s;
  s.bucket = bucket_;
  s.key = key_;
  s.sha256 = sha256_.finish_hex();
  std::string expected_etag;
  if (upload_id_.empty()) {
    // smaller than one part: a single PutObject, atomic by itself
    auto put = client_.put_object(bucket_, key_, buffer_.data(), buffer_.size());
    if (!put.ok()) return fail(put.error());
    expected_etag = hex(md5(buffer_.data(), buffer_.size()));
    s.version_id = put->version_id;
  } else {
    if (!buffer_.empty())
      if (auto st = flush_part(); !st.ok()) return fail(st.error());
    auto done = client_.complete_multipart_upload(bucket_, key_, upload_id_, parts_);
    if (!done.ok()) return fail(done.error());
    expected_etag =
        hex(md5(part_md5s_.data(), part_md5s_.size())) + "-" + std::to_string(parts_.size());
    s.version_id = done->version_id;
    s.parts = static_cast<int>(parts_.size());
  }
  done_ = true;  // the object is visible: nothing left to abort
  std::vector<std::uint8_t>().swap(buffer_);

  // read back what the server holds
  HSM_TRY_ASSIGN(ObjectInfo info, client_.head_object(bucket_, key_, s.version_id));
  const std::string where =
      "s3://" + bucket_ + "/" + key_ + (s.version_id.empty() ? "" : " version " + s.version_id);
  if (info.size != written_)
    return Error::integrity(where + " holds " + std::to_string(info.size) +
                            " bytes after the upload, not the " + std::to_string(written_) +
                            " written");
  const bool md5_etag = info.server_side_encryption.rfind("aws:kms", 0) != 0 &&
                        info.server_side_encryption != "customer";
  if (md5_etag && lower(info.etag) != expected_etag)
    return Error::integrity(where + " has ETag " + info.etag + " after the upload, not " +
                            expected_etag + " (the MD5s of the bytes written)");
  s.etag = info.etag;
  s.size = info.size;
  s.retention = info.retention;
  return s;
}

void UploadSink::abort() noexcept {
  if (done_) return;
  done_ = true;
  std::vector<std::uint8_t>().swap(buffer_);
  if (upload_id_.empty()) return;
  try {
    (void)client_.abort_multipart_upload(bucket_, key_,
                                         upload_id_);  // best effort: prune finds leftovers
  } catch (...) {
  }
}

}  // namespace hsm::repo::s3
