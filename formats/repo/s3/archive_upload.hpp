// An archive written straight into a bucket: the archive writer's output
// (formats/archive_output.hpp) over an UploadSink. The object appears only
// when commit() completes the upload, after the trailer; abort() and the
// destructor abort the multipart upload, so an interrupted backup leaves no
// visible object (a process killed outright leaves a pending upload, which
// a repository prune aborts).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "formats/archive_output.hpp"
#include "formats/repo/s3/upload_sink.hpp"

namespace hsm::repo::s3 {

class ArchiveUpload final : public formats::ArchiveOutput {
 public:
  explicit ArchiveUpload(std::unique_ptr<UploadSink> sink, std::string name)
      : sink_(std::move(sink)), name_(std::move(name)) {}
  ~ArchiveUpload() override { abort(); }

  api::Status write(const void* data, std::size_t n) override { return sink_->write(data, n); }
  api::Status commit() override;
  void abort() noexcept override {
    if (!summary_) sink_->abort();
  }
  std::string name() const override { return name_; }

  // What the server holds after commit(): size and ETag read back (HEAD),
  // the SHA-256 of every byte sent, version id, retention.
  const std::optional<UploadSummary>& summary() const { return summary_; }

 private:
  std::unique_ptr<UploadSink> sink_;
  std::string name_;
  std::optional<UploadSummary> summary_;
};

}  // namespace hsm::repo::s3
