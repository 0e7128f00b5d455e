#include "formats/archive_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "formats/archive_codec.hpp"

namespace hsm::formats {

using detail::load_u32;
using detail::load_u64;

// --- sources ---

Result<std::unique_ptr<FileSource>> FileSource::open(const std::filesystem::path& path) {
  std::unique_ptr<FileSource> f(new FileSource());
  f->path_ = path;
  // O_NONBLOCK: opening a FIFO must not wait for a writer forever; anything
  // but a regular file is refused below, and the flag is cleared after.
  f->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (f->fd_ < 0) {
    int e = errno;
    if (e == EIO)
      return Error::other("cannot open archive " + path.string() + ": " + std::strerror(e));
    return Error::usage("cannot open archive " + path.string() + ": " + std::strerror(e));
  }
  struct stat st {};
  if (::fstat(f->fd_, &st) != 0)
    return Error::other("cannot stat archive " + path.string() + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    return Error::usage(path.string() + " is not a regular file (" +
                            (S_ISDIR(st.st_mode)                          ? "a folder"
                             : S_ISFIFO(st.st_mode)                       ? "a FIFO"
                             : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device node"
                                                                          : "a special file") +
                            "): an archive is read from a file",
                        "copy the archive to a file first");
  ::fcntl(f->fd_, F_SETFL, ::fcntl(f->fd_, F_GETFL) & ~O_NONBLOCK);
  f->size_ = static_cast<std::uint64_t>(st.st_size);
  ::posix_fadvise(f->fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  return f;
}

FileSource::~FileSource() {
  if (fd_ >= 0) ::close(fd_);
}

Status FileSource::read_at(std::uint64_t offset, std::uint8_t* out, std::size_t n) const {
  while (n > 0) {
    ssize_t r = ::pread(fd_, out, n, static_cast<off_t>(offset));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Error::other("reading archive " + path_.string() + ": " + std::strerror(errno));
    }
    if (r == 0)
      return Error::integrity("archive " + path_.string() + " shrank while it was being read");
    out += r;
    offset += static_cast<std::uint64_t>(r);
    n -= static_cast<std::size_t>(r);
  }
  return {};
}

Status MemorySource::read_at(std::uint64_t offset, std::uint8_t* out, std::size_t n) const {
  if (offset > size_ || n > size_ - offset)
    return Error::integrity("read past the end of the archive");
  std::memcpy(out, data_ + offset, n);
  return {};
}

namespace {

constexpr std::size_t kCursorBuffer = 1u << 20;

std::string num(std::uint64_t v) {
  return std::to_string(v);
}
std::string hex64(std::uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

// A buffered forward reader over [begin, end) of a source. With `hash`, every
// byte read is fed to it once, in order, as it is read.
class Cursor {
 public:
  Cursor(const ByteSource& src, std::uint64_t begin, std::uint64_t end, detail::Sha256* hash)
      : src_(src),
        pos_(begin),
        next_(begin),
        end_(end),
        hash_(hash),
        buf_(static_cast<std::size_t>(std::min<std::uint64_t>(kCursorBuffer, end - begin))) {}
  std::uint64_t pos() const { return pos_; }
  std::uint64_t remaining() const { return end_ - pos_; }

  // n contiguous bytes at the cursor, valid until the next call. The caller
  // has checked n <= remaining().
  Result<const std::uint8_t*> peek(std::size_t n) {
    if (tail_ - head_ < n) HSM_TRY(fill(n));
    return buf_.data() + head_;
  }
  void advance(std::size_t n) {
    head_ += n;
    pos_ += n;
  }
  // Passes the next n bytes to fn in chunks and advances past them.
  template <class F>
  Status consume(std::uint64_t n, F&& fn) {
    while (n > 0) {
      if (tail_ == head_) HSM_TRY(fill(1));
      std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(n, tail_ - head_));
      fn(buf_.data() + head_, k);
      advance(k);
      n -= k;
    }
    return {};
  }
  Status drain() {
    return consume(remaining(), [](const std::uint8_t*, std::size_t) {});
  }

 private:
  Status fill(std::size_t need) {
    if (need > remaining()) return Error::integrity("archive truncated: a read runs past its area");
    std::size_t have = tail_ - head_;
    if (have > 0 && head_ > 0) std::memmove(buf_.data(), buf_.data() + head_, have);
    head_ = 0;
    tail_ = have;
    if (need > buf_.size()) buf_.resize(need);
    std::size_t k =
        static_cast<std::size_t>(std::min<std::uint64_t>(buf_.size() - tail_, end_ - next_));
    HSM_TRY(src_.read_at(next_, buf_.data() + tail_, k));
    if (hash_) hash_->update(buf_.data() + tail_, k);
    tail_ += k;
    next_ += k;
    return {};
  }

  const ByteSource& src_;
  std::uint64_t pos_;   // file offset of buf_[head_]
  std::uint64_t next_;  // file offset of the next byte to read
  std::uint64_t end_;
  detail::Sha256* hash_;
  Bytes buf_;
  std::size_t head_ = 0, tail_ = 0;
};

struct HeaderRead {
  ArchiveHeader header;
  Bytes raw;              // prefix, body and header digest, as in the file
  std::uint64_t end = 0;  // offset of the first byte after the header
};

Result<HeaderRead> read_header_impl(const ByteSource& src) {
  const std::uint64_t size = src.size();
  if (size == 0) return Error::integrity("not an hsm-migrate archive: the file is empty");
  std::uint8_t prefix[kPrefixSize];
  const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(size, kPrefixSize));
  HSM_TRY(src.read_at(0, prefix, n));
  if (std::memcmp(prefix, kMagic.data(), std::min(n, kMagic.size())) != 0)
    return Error::integrity(
        "not an hsm-migrate archive (the file does not start with the archive magic)");
  if (n < kPrefixSize)
    return Error::integrity("archive truncated: the file ends inside its first " +
                            num(kPrefixSize) + " bytes (" + num(size) + " bytes long)");
  const std::uint32_t version = load_u32(prefix + 8);
  if (version > kFormatVersion)
    return Error{api::ErrorKind::integrity,
                 "archive format version " + num(version) +
                     " is newer than this hsm-migrate understands (max " + num(kFormatVersion) +
                     "); upgrade hsm-migrate",
                 {},
                 {},
                 "upgrade hsm-migrate"};
  if (version < kOldestFormatVersion)
    return Error::integrity("archive header is corrupt: format version " + num(version) +
                            " never existed");
  const std::uint32_t body = load_u32(prefix + 12);
  if (body > kMaxHeaderBody)
    return Error::integrity("archive header is corrupt: its length " + num(body) +
                            " exceeds the limit of " + num(kMaxHeaderBody) + " bytes");
  HeaderRead hr;
  hr.end = kPrefixSize + body + kDigestSize;
  if (size < hr.end)
    return Error::integrity("archive truncated: the header needs " + num(hr.end) +
                            " bytes, the file has " + num(size));
  hr.raw.resize(static_cast<std::size_t>(hr.end));
  std::memcpy(hr.raw.data(), prefix, kPrefixSize);
  HSM_TRY(src.read_at(kPrefixSize, hr.raw.data() + kPrefixSize, hr.raw.size() - kPrefixSize));
  const Digest computed = detail::sha256(hr.raw.data(), kPrefixSize + body);
  if (std::memcmp(computed.data(), hr.raw.data() + kPrefixSize + body, kDigestSize) != 0)
    return Error::integrity("archive header is corrupt: its SHA-256 does not match");
  HSM_TRY_ASSIGN(hr.header, detail::decode_header_body(hr.raw.data() + kPrefixSize, body, version));
  hr.header.header_digest = computed;
  return hr;
}

}  // namespace

// What a full check found (outside the anonymous namespace: it is a member
// of VerifiedArchive::State, a class with external linkage).
struct Verified {
  VerifyReport report;
  std::uint64_t header_end = 0;
  std::uint64_t index_offset = 0;
  std::uint64_t count = 0;
};

namespace {

// The whole check (archive-format.md, "Verifying"). With `hashes`, keeps each
// record's SHA-256 for for_each_blob's second pass.
Result<Verified> verify_impl(const ByteSource& src, const VerifyOptions& opt,
                             std::vector<Digest>* hashes) {
  HSM_TRY_ASSIGN(HeaderRead hr, read_header_impl(src));
  const std::uint64_t size = src.size();
  Verified v;
  VerifyReport& rep = v.report;
  v.header_end = hr.end;

  // Trailer.
  const std::uint32_t version = hr.header.format_version;
  const std::size_t trailer_size = formats::trailer_size(version);
  const std::size_t mac_size = version >= 2 ? kMacSize : 0;
  std::uint8_t trailer[kTrailerSizeV2];
  if (size - hr.end < trailer_size)
    return Error::integrity("archive has no trailer: it is truncated or was never finished (" +
                            num(size - hr.end) + " bytes after the header)");
  HSM_TRY(src.read_at(size - trailer_size, trailer, trailer_size));
  if (std::memcmp(trailer + trailer_size - kEndMagic.size(), kEndMagic.data(), kEndMagic.size()) !=
      0)
    return Error::integrity("archive has no trailer: it is truncated or was never finished");
  const std::uint64_t trailer_offset = size - trailer_size;
  Digest stored_digest;
  std::memcpy(stored_digest.data(), trailer, kDigestSize);
  const std::uint8_t* signature = trailer + kDigestSize;
  rep.archive_mac.assign(trailer + kDigestSize + kSignatureSize,
                         trailer + kDigestSize + kSignatureSize + mac_size);
  const std::uint64_t index_offset = load_u64(trailer + kDigestSize + kSignatureSize + mac_size);

  // Certificates, then trust, then the HOK's signature of the stored digest:
  // from here on the digest is authentic, and the file must match it.
  HSM_TRY_ASSIGN(detail::ChainInfo chain,
                 detail::check_chain(hr.header.certificates, version, ErrorKind::integrity));
  rep.root_trusted = std::find(opt.trusted_roots.begin(), opt.trusted_roots.end(),
                               chain.root_sha256) != opt.trusted_roots.end();
  if (!rep.root_trusted && !opt.any_root)
    return Error{api::ErrorKind::integrity,
                 "archive is signed under root " + to_hex(chain.root_sha256) + " (" +
                     chain.root_subject +
                     "), which is not trusted here: it is not this fleet's manufacturing root nor "
                     "one you added",
                 {},
                 {},
                 "if you know whose root it is, trust it with --trusted-root FILE (or a copy in "
                 "HOME/trust/); "
                 "`verify --any-root` only checks the structure"};
  HSM_TRY(detail::check_hok_names_device(chain.hok_common_name, hr.header.source_device));
  if (!detail::verify_signature(chain.hok, stored_digest, signature, kSignatureSize))
    return Error::integrity(
        "archive trailer signature does not verify with the HOK certificate's key: the trailer is "
        "corrupt or the archive was not signed by this device");

  // Index location and header.
  const std::uint64_t min_record = kRecordPrefixSize + 1;
  if (index_offset < hr.end + min_record || index_offset > trailer_offset ||
      trailer_offset - index_offset < kIndexHeaderSize + kIndexEntryFixed + kDigestSize)
    return Error::integrity("archive trailer is corrupt: index offset " + num(index_offset) +
                            " lies outside the blob area (" + num(hr.end) + " to " +
                            num(trailer_offset) + ")");
  std::uint8_t ih[kIndexHeaderSize];
  HSM_TRY(src.read_at(index_offset, ih, kIndexHeaderSize));
  if (std::memcmp(ih, kIndexMagic.data(), kIndexMagic.size()) != 0)
    return Error::integrity("archive has no index at offset " + num(index_offset) +
                            ": the trailer's index offset or the index is corrupt");
  const std::uint64_t count = load_u64(ih + 8);
  const std::uint64_t sealed_total = load_u64(ih + 16);
  const std::uint64_t index_end = trailer_offset - kDigestSize;  // where the index digest sits
  Digest stored_index_digest;
  HSM_TRY(src.read_at(index_end, stored_index_digest.data(), kDigestSize));

  // A failure inside the blobs or the index is blamed on the index when the
  // index does not match its own digest, else on the blobs.
  auto index_or = [&](Error e) -> Error {
    detail::Sha256 h;
    Cursor c(src, index_offset, index_end, &h);
    Status s = c.drain();
    if (!s.ok()) return s.error();
    if (h.finish() != stored_index_digest)
      return Error::integrity(
          "archive index is corrupt: its SHA-256 does not match (index at offset " +
          num(index_offset) + ")");
    return e;
  };

  if (count == 0) return index_or(Error::integrity("archive holds no blobs: nothing to check"));
  if (count > kMaxBlobCount ||
      count > (index_end - index_offset - kIndexHeaderSize) / kIndexEntryFixed ||
      count > (index_offset - hr.end) / min_record)
    return index_or(Error::integrity("archive index is corrupt: " + num(count) +
                                     " entries cannot fit in the archive"));
  if (hashes) hashes->reserve(static_cast<std::size_t>(count));

  // One pass: `blobs` feeds every byte after the header to the archive
  // digest; `index` walks the entries alongside. The index digest is only
  // computed on a failure (index_or): on success the archive digest, which
  // covers it, decides.
  detail::Sha256 file_hash, record_hash;
  file_hash.update(hr.raw.data(), hr.raw.size());
  Cursor blobs(src, hr.end, trailer_offset, &file_hash);
  Cursor index(src, index_offset + kIndexHeaderSize, index_end, nullptr);

  std::uint64_t sealed_seen = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    auto which = [i] { return "blob " + num(i); };
    // Index entry i.
    if (index.remaining() < kIndexEntryFixed)
      return index_or(Error::integrity("archive index is corrupt: it ends after " + num(i) +
                                       " of " + num(count) + " entries"));
    HSM_TRY_ASSIGN(const std::uint8_t* e, index.peek(kIndexEntryFixed - kDigestSize));
    const std::size_t e_label_len = e[21];
    const std::size_t entry_len = kIndexEntryFixed + e_label_len;
    if (index.remaining() < entry_len)
      return index_or(
          Error::integrity("archive index is corrupt: entry " + num(i) + " runs past its end"));
    HSM_TRY_ASSIGN(e, index.peek(entry_len));
    const std::uint64_t e_offset = load_u64(e);
    const std::uint32_t e_length = load_u32(e + 8);
    const std::uint64_t e_handle = load_u64(e + 12);
    const std::uint8_t e_type = e[20];
    const std::uint8_t* e_label = e + 22;
    const std::uint8_t* e_hash = e_label + e_label_len;

    // Record i.
    const std::uint64_t rec_offset = blobs.pos();
    if (e_offset != rec_offset)
      return index_or(Error::integrity("archive index entry " + num(i) + " points at offset " +
                                       num(e_offset) + " but " + which() + " starts at " +
                                       num(rec_offset)));
    if (index_offset - rec_offset < kRecordPrefixSize)
      return index_or(Error::integrity("archive blobs end after " + num(i) + " of the " +
                                       num(count) + " blobs the index lists"));
    HSM_TRY_ASSIGN(const std::uint8_t* r, blobs.peek(kRecordPrefixSize));
    const std::uint64_t handle = load_u64(r);
    const std::uint8_t type = r[8];
    const std::size_t label_len = r[9];
    const std::uint32_t sealed_len = load_u32(r + 10);
    if (sealed_len == 0 || sealed_len > kMaxSealed)
      return index_or(Error::integrity(which() + " at offset " + num(rec_offset) +
                                       " is corrupt: sealed length " + num(sealed_len) +
                                       " is out of range (1 to " + num(kMaxSealed) + ")"));
    const std::uint64_t rec_len = kRecordPrefixSize + label_len + sealed_len;
    if (rec_len > index_offset - rec_offset)
      return index_or(Error::integrity(which() + " at offset " + num(rec_offset) +
                                       " is corrupt: its " + num(rec_len) +
                                       " bytes run into the index"));
    if (handle != e_handle || type != e_type || label_len != e_label_len || rec_len != e_length)
      return index_or(Error::integrity(which() + " at offset " + num(rec_offset) +
                                       " does not match its index entry (record: handle " +
                                       hex64(handle) + " type " + num(type) + ", index: handle " +
                                       hex64(e_handle) + " type " + num(e_type) +
                                       "): blobs were swapped, reordered or damaged"));
    if (!blob_type_from_u8(type))
      return index_or(Error::integrity(which() + " has unknown type " + num(type)));

    // Hash the record; compare label and hash with the entry.
    bool label_ok;
    if (rec_len <= kCursorBuffer) {
      HSM_TRY_ASSIGN(r, blobs.peek(static_cast<std::size_t>(rec_len)));
      record_hash.update(r, static_cast<std::size_t>(rec_len));
      label_ok =
          std::memcmp(r + kRecordPrefixSize, e_label, label_len) == 0 &&
          detail::valid_utf8({reinterpret_cast<const char*>(r + kRecordPrefixSize), label_len});
      blobs.advance(static_cast<std::size_t>(rec_len));
    } else {
      HSM_TRY_ASSIGN(r, blobs.peek(kRecordPrefixSize + label_len));
      record_hash.update(r, kRecordPrefixSize + label_len);
      label_ok =
          std::memcmp(r + kRecordPrefixSize, e_label, label_len) == 0 &&
          detail::valid_utf8({reinterpret_cast<const char*>(r + kRecordPrefixSize), label_len});
      blobs.advance(kRecordPrefixSize + label_len);
      HSM_TRY(blobs.consume(
          sealed_len, [&](const std::uint8_t* p, std::size_t k) { record_hash.update(p, k); }));
    }
    const Digest rh = record_hash.finish();
    if (!label_ok)
      return index_or(Error::integrity(which() + " at offset " + num(rec_offset) +
                                       " does not match its index entry (label differs or is not "
                                       "UTF-8): blobs were swapped, reordered or damaged"));
    if (std::memcmp(rh.data(), e_hash, kDigestSize) != 0)
      return index_or(Error::integrity(which() + " (handle " + hex64(handle) + ", offset " +
                                       num(rec_offset) +
                                       ") is corrupt: its SHA-256 does not match the index"));
    index.advance(entry_len);
    if (hashes) hashes->push_back(rh);
    sealed_seen += sealed_len;
    ++rep.blobs_checked;
    switch (static_cast<BlobType>(type)) {
      case BlobType::object:
        ++rep.objects;
        break;
      case BlobType::sim4:
        ++rep.sim4_blobs;
        break;
      case BlobType::smk:
        ++rep.smk_blobs;
        break;
    }
  }
  if (blobs.pos() != index_offset)
    return index_or(Error::integrity("archive is corrupt: " + num(index_offset - blobs.pos()) +
                                     " unexpected bytes between the last blob and the index"));
  if (index.remaining() != 0)
    return index_or(Error::integrity("archive index is corrupt: " + num(index.remaining()) +
                                     " bytes after its last entry"));
  if (sealed_seen != sealed_total)
    return index_or(Error::integrity("archive index is corrupt: it counts " + num(sealed_total) +
                                     " sealed bytes, the blobs hold " + num(sealed_seen)));
  HSM_TRY(blobs.drain());
  rep.archive_digest = file_hash.finish();
  if (rep.archive_digest != stored_digest)
    return index_or(Error::integrity(
        "archive digest does not match its trailer: the archive was modified after it was signed"));

  rep.header = std::move(hr.header);
  rep.sealed_bytes = sealed_seen;
  rep.bytes_checked = size;
  rep.root_sha256 = chain.root_sha256;
  rep.hok_subject = chain.hok_subject;
  rep.root_subject = chain.root_subject;
  // Never OK after checking nothing.
  if (rep.blobs_checked == 0 || rep.blobs_checked != count || rep.bytes_checked != size)
    return Error::integrity("archive verification checked nothing");
  v.index_offset = index_offset;
  v.count = count;
  return v;
}

}  // namespace

Result<ArchiveHeader> read_header(const ByteSource& source) {
  HSM_TRY_ASSIGN(HeaderRead hr, read_header_impl(source));
  return std::move(hr.header);
}

Result<ArchiveHeader> read_header(const std::filesystem::path& path) {
  HSM_TRY_ASSIGN(auto src, FileSource::open(path));
  return read_header(*src);
}

Result<VerifyReport> verify(const ByteSource& source, const VerifyOptions& options) {
  HSM_TRY_ASSIGN(Verified v, verify_impl(source, options, nullptr));
  return std::move(v.report);
}

Result<VerifyReport> verify(const std::filesystem::path& path, const VerifyOptions& options) {
  HSM_TRY_ASSIGN(auto src, FileSource::open(path));
  return verify(*src, options);
}

struct VerifiedArchive::State {
  std::unique_ptr<ByteSource> owned;  // when opened by path
  const ByteSource* src = nullptr;
  Verified v;
  std::vector<Digest> hashes;
};

VerifiedArchive::VerifiedArchive(std::unique_ptr<State> s) : state_(std::move(s)) {}
VerifiedArchive::~VerifiedArchive() = default;
const VerifyReport& VerifiedArchive::report() const {
  return state_->v.report;
}

Result<std::unique_ptr<VerifiedArchive>> VerifiedArchive::open(const ByteSource& source,
                                                               const VerifyOptions& options) {
  auto st = std::make_unique<State>();
  st->src = &source;
  HSM_TRY_ASSIGN(st->v, verify_impl(source, options, &st->hashes));
  return std::unique_ptr<VerifiedArchive>(new VerifiedArchive(std::move(st)));
}

Result<std::unique_ptr<VerifiedArchive>> VerifiedArchive::open(const std::filesystem::path& path,
                                                               const VerifyOptions& options) {
  HSM_TRY_ASSIGN(auto file, FileSource::open(path));
  auto st = std::make_unique<State>();
  st->owned = std::move(file);
  st->src = st->owned.get();
  HSM_TRY_ASSIGN(st->v, verify_impl(*st->src, options, &st->hashes));
  return std::unique_ptr<VerifiedArchive>(new VerifiedArchive(std::move(st)));
}

Status VerifiedArchive::for_each_blob(const std::function<Status(const BlobRecord&)>& fn) const {
  const Verified& v = state_->v;
  const std::vector<Digest>& hashes = state_->hashes;
  // Second pass: re-read each record, re-check it against the first pass.
  auto changed = [&](std::uint64_t i) {
    return Error::integrity("archive blob " + num(i) +
                            " changed after it was verified: the file is being modified");
  };
  Cursor blobs(*state_->src, v.header_end, v.index_offset, nullptr);
  detail::Sha256 record_hash;
  BlobRecord rec;
  for (std::uint64_t i = 0; i < v.count; ++i) {
    if (blobs.remaining() < kRecordPrefixSize) return changed(i);
    HSM_TRY_ASSIGN(const std::uint8_t* r, blobs.peek(kRecordPrefixSize));
    const std::size_t label_len = r[9];
    const std::uint32_t sealed_len = load_u32(r + 10);
    const auto type = blob_type_from_u8(r[8]);
    if (!type || sealed_len == 0 || sealed_len > kMaxSealed ||
        kRecordPrefixSize + label_len + sealed_len > blobs.remaining())
      return changed(i);
    rec.index = i;
    rec.handle = load_u64(r);
    rec.type = *type;
    record_hash.update(r, kRecordPrefixSize);
    blobs.advance(kRecordPrefixSize);
    HSM_TRY_ASSIGN(const std::uint8_t* l, blobs.peek(label_len));
    rec.label.assign(reinterpret_cast<const char*>(l), label_len);
    record_hash.update(l, label_len);
    blobs.advance(label_len);
    rec.sealed.resize(sealed_len);
    std::size_t at = 0;
    HSM_TRY(blobs.consume(sealed_len, [&](const std::uint8_t* p, std::size_t k) {
      std::memcpy(rec.sealed.data() + at, p, k);
      at += k;
    }));
    record_hash.update(rec.sealed.data(), rec.sealed.size());
    if (record_hash.finish() != hashes[static_cast<std::size_t>(i)]) return changed(i);
    HSM_TRY(fn(rec));
  }
  return {};
}

Status for_each_blob(const ByteSource& src, const std::function<Status(const BlobRecord&)>& fn,
                     const VerifyOptions& options) {
  HSM_TRY_ASSIGN(auto archive, VerifiedArchive::open(src, options));
  return archive->for_each_blob(fn);
}

Status for_each_blob(const std::filesystem::path& path,
                     const std::function<Status(const BlobRecord&)>& fn,
                     const VerifyOptions& options) {
  HSM_TRY_ASSIGN(auto src, FileSource::open(path));
  return for_each_blob(*src, fn, options);
}

}  // namespace hsm::formats
