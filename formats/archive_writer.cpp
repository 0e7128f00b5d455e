#include "formats/archive_writer.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>

#include "formats/archive_codec.hpp"

namespace hsm::formats {

using detail::put_bytes;
using detail::put_u32;
using detail::put_u64;
using detail::put_u8;

namespace {

constexpr std::size_t kBufferSize = 1u << 20;  // output and index buffers, 1 MiB each

// An unnamed file in `folder` for the index entries: it vanishes when closed,
// even if the process is killed. Falls back to a named file unlinked at once.
Result<int> open_scratch(const std::filesystem::path& folder) {
  int fd = ::open(folder.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  std::string tmpl = (folder / ".hsm-migrate-index.tmp-XXXXXX").string();
  fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd < 0)
    return Error::other("cannot create a scratch file in " + folder.string() + ": " + std::strerror(errno));
  ::unlink(tmpl.c_str());
  return fd;
}

}  // namespace

struct ArchiveWriter::Impl {
  std::unique_ptr<ArchiveOutput> file;
  ArchiveSealer sealer;
  detail::HokKey hok;
  std::uint32_t version = kFormatVersion;
  int index_fd = -1;
  std::string index_what;
  Bytes out;        // pending archive bytes, hashed into file_hash on flush
  Bytes index_buf;  // pending index entries
  std::uint64_t offset = 0;  // archive bytes produced so far (written + pending)
  std::uint64_t sealed_total = 0;
  detail::Sha256 file_hash;
  detail::Sha256 record_hash;
  std::optional<Error> failed;
  bool committed = false;

  ~Impl() {
    if (file && !committed) file->abort();
    if (index_fd >= 0) ::close(index_fd);
  }

  Status flush() {
    if (out.empty()) return {};
    file_hash.update(out.data(), out.size());
    Status s = file->write(out.data(), out.size());
    out.clear();
    return s;
  }
  // Appends archive bytes; large runs bypass the buffer.
  Status append(const std::uint8_t* p, std::size_t n) {
    offset += n;
    if (out.size() + n > kBufferSize) HSM_TRY(flush());
    if (n >= kBufferSize) {
      file_hash.update(p, n);
      return file->write(p, n);
    }
    out.insert(out.end(), p, p + n);
    return {};
  }
  Status flush_index() {
    if (index_buf.empty()) return {};
    Status s = write_all(index_fd, index_buf.data(), index_buf.size(), index_what);
    index_buf.clear();
    return s;
  }
};

ArchiveWriter::ArchiveWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ArchiveWriter::~ArchiveWriter() { abort(); }

void ArchiveWriter::abort() noexcept {
  if (!impl_ || impl_->committed) return;
  if (impl_->file) impl_->file->abort();
  if (impl_->index_fd >= 0) {
    ::close(impl_->index_fd);
    impl_->index_fd = -1;
  }
  if (!impl_->failed) impl_->failed = Error::other("the archive was abandoned");
}

Error ArchiveWriter::fail(Error e) {
  abort();
  impl_->failed = e;
  return e;
}

Result<ArchiveId> new_archive_id() {
  if (sodium_init() < 0) return Error::other("libsodium failed to initialise");
  ArchiveId id{};
  randombytes_buf(id.data(), id.size());
  return id;
}

Result<std::unique_ptr<ArchiveWriter>> ArchiveWriter::create(const std::filesystem::path& destination,
                                                             ArchiveHeader header, ArchiveSealer sealer,
                                                             ArchiveWriterOptions options) {
  // The header is checked before the temporary file exists (a bad header
  // leaves nothing to clean up).
  if (!sealer) return Error::usage("archive writer: no sealer");
  {
    ArchiveHeader probe = header;
    probe.format_version = options.format_version;
    HSM_TRY_ASSIGN(Bytes body, detail::encode_header_body(probe));
    (void)body;
  }
  HSM_TRY_ASSIGN(auto file, AtomicFile::create(destination, {options.overwrite, 0600}));
  std::filesystem::path folder = destination.parent_path();
  if (folder.empty()) folder = ".";
  return create(std::move(file), folder, std::move(header), std::move(sealer), options);
}

Result<std::unique_ptr<ArchiveWriter>> ArchiveWriter::create(std::unique_ptr<ArchiveOutput> output,
                                                             const std::filesystem::path& scratch_folder,
                                                             ArchiveHeader header, ArchiveSealer sealer,
                                                             ArchiveWriterOptions options) {
  if (!output) return Error::usage("archive writer: no output");
  if (!sealer) {
    output->abort();
    return Error::usage("archive writer: no sealer");
  }
  if (!options.identity_given) {
    HSM_TRY_ASSIGN(header.archive_id, new_archive_id());
    header.created_at = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  }
  header.format_version = options.format_version;
  auto impl = std::make_unique<Impl>();
  impl->file = std::move(output);  // ~Impl aborts it on any early return
  HSM_TRY_ASSIGN(Bytes body, detail::encode_header_body(header));
  impl->version = options.format_version;
  if (options.check_chain) {
    HSM_TRY_ASSIGN(detail::ChainInfo chain,
                   detail::check_chain(header.certificates, options.format_version, ErrorKind::usage));
    if (options.format_version >= 2) HSM_TRY(detail::check_hok_names_device(chain.hok_common_name, header.source_device, ErrorKind::usage));
    impl->hok = std::move(chain.hok);
  } else {
    HSM_TRY_ASSIGN(impl->hok, detail::hok_key(header.certificates, options.format_version, ErrorKind::usage));
  }
  impl->sealer = std::move(sealer);
  HSM_TRY_ASSIGN(impl->index_fd, open_scratch(scratch_folder));
  impl->index_what = "the index scratch file in " + scratch_folder.string();
  impl->out.reserve(kBufferSize);
  impl->index_buf.reserve(kBufferSize);

  // Prefix, body, header digest (archive-format.md, "Header").
  Bytes prefix(kMagic.begin(), kMagic.end());
  put_u32(prefix, options.format_version);
  put_u32(prefix, static_cast<std::uint32_t>(body.size()));
  detail::Sha256 h;
  h.update(prefix.data(), prefix.size());
  h.update(body.data(), body.size());
  header.header_digest = h.finish();

  std::unique_ptr<ArchiveWriter> w(new ArchiveWriter(std::move(impl)));
  w->header_ = std::move(header);
  Impl& m = *w->impl_;
  Status s = m.append(prefix.data(), prefix.size());
  if (s.ok()) s = m.append(body.data(), body.size());
  if (s.ok()) s = m.append(w->header_.header_digest.data(), w->header_.header_digest.size());
  if (!s.ok()) return w->fail(s.error());
  return w;
}

Bytes ArchiveWriter::next_associated_data(std::uint64_t handle, BlobType type) const {
  return blob_associated_data(header_.archive_id, count_, handle, static_cast<std::uint8_t>(type));
}

Status ArchiveWriter::add_blob(std::uint64_t handle, BlobType type, std::string_view label,
                               const std::uint8_t* sealed, std::size_t sealed_size) {
  Impl& m = *impl_;
  if (m.failed) return *m.failed;
  if (m.committed) return Error::other("archive writer: add_blob after commit");
  if (!blob_type_from_u8(static_cast<std::uint8_t>(type)))
    return fail(Error::usage("blob " + std::to_string(count_) + ": unknown blob type " +
                             std::to_string(static_cast<int>(type))));
  if (label.size() > kMaxString)
    return fail(Error::usage("blob " + std::to_string(count_) + ": label is " +
                             std::to_string(label.size()) + " bytes (limit " +
                             std::to_string(kMaxString) + ")"));
  if (!detail::valid_utf8(label))
    return fail(Error::usage("blob " + std::to_string(count_) + ": label is not valid UTF-8"));
  if (sealed_size == 0 || sealed_size > kMaxSealed)
    return fail(Error::usage("blob " + std::to_string(count_) + ": sealed size " +
                             std::to_string(sealed_size) + " is out of range (1 to " +
                             std::to_string(kMaxSealed) + ")"));
  if (count_ >= kMaxBlobCount)
    return fail(Error::usage("an archive holds at most " + std::to_string(kMaxBlobCount) + " blobs"));

  // Record: u64 handle, u8 type, u8 label length, u32 sealed length, label, sealed.
  std::uint8_t prefix[kRecordPrefixSize];
  detail::store_u64(prefix, handle);
  prefix[8] = static_cast<std::uint8_t>(type);
  prefix[9] = static_cast<std::uint8_t>(label.size());
  detail::store_u32(prefix + 10, static_cast<std::uint32_t>(sealed_size));
  const std::uint64_t record_offset = m.offset;
  const std::size_t record_size = kRecordPrefixSize + label.size() + sealed_size;
  const auto* lp = reinterpret_cast<const std::uint8_t*>(label.data());
  m.record_hash.update(prefix, sizeof prefix);
  m.record_hash.update(lp, label.size());
  m.record_hash.update(sealed, sealed_size);
  Status s = m.append(prefix, sizeof prefix);
  if (s.ok()) s = m.append(lp, label.size());
  if (s.ok()) s = m.append(sealed, sealed_size);
  if (!s.ok()) return fail(s.error());
  Digest rh = m.record_hash.finish();

  // Index entry: u64 offset, u32 length, u64 handle, u8 type, u8 label length, label, hash.
  Bytes& ib = m.index_buf;
  if (ib.size() + kIndexEntryFixed + label.size() > kBufferSize) {
    s = m.flush_index();
    if (!s.ok()) return fail(s.error());
  }
  put_u64(ib, record_offset);
  put_u32(ib, static_cast<std::uint32_t>(record_size));
  put_u64(ib, handle);
  put_u8(ib, static_cast<std::uint8_t>(type));
  put_u8(ib, static_cast<std::uint8_t>(label.size()));
  put_bytes(ib, lp, label.size());
  put_bytes(ib, rh.data(), rh.size());
  m.sealed_total += sealed_size;
  ++count_;
  return {};
}

Result<WriteSummary> ArchiveWriter::commit() {
  Impl& m = *impl_;
  if (m.failed) return *m.failed;
  if (m.committed) return Error::other("archive writer: commit called twice");
  if (count_ == 0)
    return fail(Error::usage("nothing to archive: an archive must hold at least one blob"));

  // Index: header, the entries streamed back from the scratch file, digest.
  const std::uint64_t index_offset = m.offset;
  Status s = m.flush_index();
  if (!s.ok()) return fail(s.error());
  detail::Sha256 index_hash;
  Bytes ih(kIndexMagic.begin(), kIndexMagic.end());
  put_u64(ih, count_);
  put_u64(ih, m.sealed_total);
  index_hash.update(ih.data(), ih.size());
  s = m.append(ih.data(), ih.size());
  if (!s.ok()) return fail(s.error());
  Bytes chunk(kBufferSize);
  for (std::uint64_t pos = 0;;) {
    ssize_t r = ::pread(m.index_fd, chunk.data(), chunk.size(), static_cast<off_t>(pos));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return fail(Error::other("reading " + m.index_what + ": " + std::strerror(errno)));
    if (r == 0) break;
    index_hash.update(chunk.data(), static_cast<std::size_t>(r));
    s = m.append(chunk.data(), static_cast<std::size_t>(r));
    if (!s.ok()) return fail(s.error());
    pos += static_cast<std::uint64_t>(r);
  }
  ::close(m.index_fd);
  m.index_fd = -1;
  Digest index_digest = index_hash.finish();
  s = m.append(index_digest.data(), index_digest.size());
  if (s.ok()) s = m.flush();
  if (!s.ok()) return fail(s.error());

  // Trailer: archive digest, the HOK's signature of it, (v2) the archive
  // MAC, index offset, magic.
  Digest digest = m.file_hash.finish();
  api::ArchiveFinish finish;
  finish.archive_id = header_.archive_id;
  finish.blob_count = count_;
  finish.header_digest = header_.header_digest;
  finish.archive_digest = digest;
  Result<api::ArchiveSeal> seal = m.sealer(finish);
  if (!seal.ok()) return fail(seal.error());
  if (!detail::verify_signature(m.hok, digest, seal->signature.data(), seal->signature.size()))
    return fail(Error::integrity(
        "the device's signature of the archive does not verify with its HOK certificate"));
  const std::size_t mac_size = m.version >= 2 ? kMacSize : 0;
  if (seal->mac.size() != mac_size)
    return fail(Error::integrity("the device's archive MAC is " + std::to_string(seal->mac.size()) +
                                 " bytes; format version " + std::to_string(m.version) + " takes " +
                                 std::to_string(mac_size)));
  Bytes trailer(digest.begin(), digest.end());
  put_bytes(trailer, seal->signature.data(), seal->signature.size());
  put_bytes(trailer, seal->mac.data(), seal->mac.size());
  put_u64(trailer, index_offset);
  put_bytes(trailer, kEndMagic.data(), kEndMagic.size());
  s = m.file->write(trailer.data(), trailer.size());
  if (s.ok()) s = m.file->commit();
  if (!s.ok()) return fail(s.error());
  m.committed = true;

  WriteSummary out;
  out.path = m.file->name();
  out.archive_id = header_.archive_id;
  out.blob_count = count_;
  out.sealed_bytes = m.sealed_total;
  out.file_bytes = m.offset + trailer.size();
  out.archive_digest = digest;
  out.archive_mac = seal->mac;
  return out;
}

}  // namespace hsm::formats
