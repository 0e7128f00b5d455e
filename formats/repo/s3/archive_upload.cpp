#include "formats/repo/s3/archive_upload.hpp"

namespace hsm::repo::s3 {

api::Status ArchiveUpload::commit() {
  HSM_TRY_ASSIGN(UploadSummary s, sink_->commit());
  summary_ = std::move(s);
  return {};
}

}  // namespace hsm::repo::s3
