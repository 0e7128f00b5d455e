#include "formats/repo/s3/xml.hpp"

#include <tinyxml2.h>

#include <charconv>

namespace hsm::repo::s3::xml {

using api::Error;
using tinyxml2::XMLDocument;
using tinyxml2::XMLElement;
using tinyxml2::XMLPrinter;

namespace {

constexpr const char* kNamespace = "http://s3.amazonaws.com/doc/2006-03-01/";

std::string text(const XMLElement* parent, const char* name) {
  const XMLElement* e = parent ? parent->FirstChildElement(name) : nullptr;
  const char* t = e ? e->GetText() : nullptr;
  return t ? t : "";
}

bool flag(const XMLElement* parent, const char* name) {
  return text(parent, name) == "true";
}

std::string unquoted(std::string etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"')
    etag = etag.substr(1, etag.size() - 2);
  return etag;
}

Error malformed(const char* what, const std::string& why) {
  return Error::other(std::string("malformed S3 reply (") + what + "): " + why);
}

// Parses `body` and checks the root element's name.
Result<const XMLElement*> root_of(XMLDocument& doc, std::string_view body, const char* root,
                                  const char* what) {
  if (doc.Parse(body.data(), body.size()) != tinyxml2::XML_SUCCESS)
    return malformed(what, doc.ErrorStr() ? doc.ErrorStr() : "not XML");
  const XMLElement* r = doc.RootElement();
  if (!r || std::string_view(r->Name()) != root)
    return malformed(what,
                     std::string("expected <") + root + ">, got <" + (r ? r->Name() : "") + ">");
  return r;
}

Result<std::uint64_t> number(const XMLElement* parent, const char* name, const char* what) {
  std::string t = text(parent, name);
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || p != t.data() + t.size())
    return malformed(what, std::string("<") + name + "> is not a number: '" + t + "'");
  return v;
}

Result<std::int64_t> when(const XMLElement* parent, const char* name, const char* what) {
  std::string t = text(parent, name);
  auto v = parse_iso8601(t);
  if (!v) return malformed(what, std::string("<") + name + "> is not a date: '" + t + "'");
  return *v;
}

std::string print(XMLPrinter& p) {
  return std::string(p.CStr(), p.CStrSize() ? p.CStrSize() - 1 : 0);
}

}  // namespace

ErrorDoc parse_error(std::string_view body) {
  ErrorDoc d;
  XMLDocument doc;
  if (body.empty() || doc.Parse(body.data(), body.size()) != tinyxml2::XML_SUCCESS) return d;
  const XMLElement* r = doc.RootElement();
  if (!r || std::string_view(r->Name()) != "Error") return d;
  d.code = text(r, "Code");
  d.message = text(r, "Message");
  d.bucket = text(r, "BucketName");
  d.key = text(r, "Key");
  d.request_id = text(r, "RequestId");
  return d;
}

Result<ListObjectsPage> parse_list_objects_v2(std::string_view body) {
  constexpr const char* what = "ListObjectsV2";
  XMLDocument doc;
  HSM_TRY_ASSIGN(const XMLElement* r, root_of(doc, body, "ListBucketResult", what));
  ListObjectsPage page;
  page.truncated = flag(r, "IsTruncated");
  page.next_continuation_token = text(r, "NextContinuationToken");
  for (auto* c = r->FirstChildElement("Contents"); c; c = c->NextSiblingElement("Contents")) {
    ObjectEntry e;
    e.key = text(c, "Key");
    if (e.key.empty()) return malformed(what, "<Contents> without <Key>");
    HSM_TRY_ASSIGN(e.size, number(c, "Size", what));
    e.etag = unquoted(text(c, "ETag"));
    HSM_TRY_ASSIGN(e.last_modified, when(c, "LastModified", what));
    page.objects.push_back(std::move(e));
  }
  for (auto* p = r->FirstChildElement("CommonPrefixes"); p;
       p = p->NextSiblingElement("CommonPrefixes"))
    page.common_prefixes.push_back(text(p, "Prefix"));
  if (page.truncated && page.next_continuation_token.empty())
    return malformed(what, "truncated without <NextContinuationToken>");
  return page;
}

Result<ListVersionsPage> parse_list_object_versions(std::string_view body) {
  constexpr const char* what = "ListObjectVersions";
  XMLDocument doc;
  HSM_TRY_ASSIGN(const XMLElement* r, root_of(doc, body, "ListVersionsResult", what));
  ListVersionsPage page;
  page.truncated = flag(r, "IsTruncated");
  page.next_key_marker = text(r, "NextKeyMarker");
  page.next_version_id_marker = text(r, "NextVersionIdMarker");
  // versions and delete markers interleave in key order: walk all children
  for (auto* c = r->FirstChildElement(); c; c = c->NextSiblingElement()) {
    std::string_view name = c->Name();
    if (name != "Version" && name != "DeleteMarker") continue;
    ObjectVersion v;
    v.key = text(c, "Key");
    v.version_id = text(c, "VersionId");
    if (v.key.empty() || v.version_id.empty())
      return malformed(what, "a version without <Key> or <VersionId>");
    v.is_latest = flag(c, "IsLatest");
    v.delete_marker = name == "DeleteMarker";
    if (!v.delete_marker) {
      HSM_TRY_ASSIGN(v.size, number(c, "Size", what));
      v.etag = unquoted(text(c, "ETag"));
    }
    HSM_TRY_ASSIGN(v.last_modified, when(c, "LastModified", what));
    page.versions.push_back(std::move(v));
  }
  if (page.truncated && page.next_key_marker.empty())
    return malformed(what, "truncated without <NextKeyMarker>");
  return page;
}

Result<ListUploadsPage> parse_list_multipart_uploads(std::string_view body) {
  constexpr const char* what = "ListMultipartUploads";
  XMLDocument doc;
  HSM_TRY_ASSIGN(const XMLElement* r, root_of(doc, body, "ListMultipartUploadsResult", what));
  ListUploadsPage page;
  page.truncated = flag(r, "IsTruncated");
  page.next_key_marker = text(r, "NextKeyMarker");
  page.next_upload_id_marker = text(r, "NextUploadIdMarker");
  for (auto* u = r->FirstChildElement("Upload"); u; u = u->NextSiblingElement("Upload")) {
    PendingUpload p;
    p.key = text(u, "Key");
    p.upload_id = text(u, "UploadId");
    if (p.key.empty() || p.upload_id.empty())
      return malformed(what, "<Upload> without <Key> or <UploadId>");
    HSM_TRY_ASSIGN(p.initiated, when(u, "Initiated", what));
    page.uploads.push_back(std::move(p));
  }
  if (page.truncated && page.next_key_marker.empty())
    return malformed(what, "truncated without <NextKeyMarker>");
  return page;
}

Result<std::string> parse_initiate_multipart_upload(std::string_view body) {
  constexpr const char* what = "CreateMultipartUpload";
  XMLDocument doc;
  HSM_TRY_ASSIGN(const XMLElement* r, root_of(doc, body, "InitiateMultipartUploadResult", what));
  std::string id = text(r, "UploadId");
  if (id.empty()) return malformed(what, "no <UploadId>");
  return id;
}

Result<CompleteResult> parse_complete_multipart_upload(std::string_view body) {
  constexpr const char* what = "CompleteMultipartUpload";
  XMLDocument doc;
  HSM_TRY_ASSIGN(const XMLElement* r, root_of(doc, body, "CompleteMultipartUploadResult", what));
  CompleteResult c{text(r, "Bucket"), text(r, "Key"), unquoted(text(r, "ETag")),
                   text(r, "Location")};
  // Ceph RGW 16 answers with an empty <ETag>: the caller HEADs the object
  return c;
}

Result<Retention> parse_retention(std::string_view body) {
  constexpr const char* what = "GetObjectRetention";
  XMLDocument doc;
  HSM_TRY_ASSIGN(const XMLElement* r, root_of(doc, body, "Retention", what));
  auto mode = lock_mode_from(text(r, "Mode"));
  if (!mode) return malformed(what, "<Mode> is '" + text(r, "Mode") + "'");
  Retention out;
  out.mode = *mode;
  HSM_TRY_ASSIGN(out.retain_until, when(r, "RetainUntilDate", what));
  return out;
}

Result<LockConfiguration> parse_object_lock_configuration(std::string_view body) {
  constexpr const char* what = "GetObjectLockConfiguration";
  XMLDocument doc;
  HSM_TRY_ASSIGN(const XMLElement* r, root_of(doc, body, "ObjectLockConfiguration", what));
  LockConfiguration c;
  c.enabled = text(r, "ObjectLockEnabled") == "Enabled";
  const XMLElement* d = r->FirstChildElement("Rule");
  d = d ? d->FirstChildElement("DefaultRetention") : nullptr;
  if (d) {
    c.mode = lock_mode_from(text(d, "Mode"));
    if (!c.mode) return malformed(what, "<Mode> is '" + text(d, "Mode") + "'");
    if (!text(d, "Days").empty()) {
      HSM_TRY_ASSIGN(auto days, number(d, "Days", what));
      c.days = static_cast<int>(days);
    }
    if (!text(d, "Years").empty()) {
      HSM_TRY_ASSIGN(auto years, number(d, "Years", what));
      c.years = static_cast<int>(years);
    }
  }
  return c;
}

std::string complete_multipart_upload(const std::vector<CompletedPart>& parts) {
  XMLPrinter p(nullptr, true);
  p.PushHeader(false, true);
  p.OpenElement("CompleteMultipartUpload", true);
  p.PushAttribute("xmlns", kNamespace);
  for (const auto& part : parts) {
    p.OpenElement("Part", true);
    p.OpenElement("PartNumber", true);
    p.PushText(part.number);
    p.CloseElement();
    p.OpenElement("ETag", true);
    p.PushText(("\"" + part.etag + "\"").c_str());
    p.CloseElement();
    p.CloseElement();
  }
  p.CloseElement();
  return print(p);
}

std::string object_lock_configuration(LockMode mode, int days) {
  XMLPrinter p(nullptr, true);
  p.PushHeader(false, true);
  p.OpenElement("ObjectLockConfiguration", true);
  p.PushAttribute("xmlns", kNamespace);
  p.OpenElement("ObjectLockEnabled", true);
  p.PushText("Enabled");
  p.CloseElement();
  p.OpenElement("Rule", true);
  p.OpenElement("DefaultRetention", true);
  p.OpenElement("Mode", true);
  p.PushText(std::string(to_string(mode)).c_str());
  p.CloseElement();
  p.OpenElement("Days", true);
  p.PushText(days);
  p.CloseElement();
  p.CloseElement();
  p.CloseElement();
  p.CloseElement();
  return print(p);
}

std::string retention(const Retention& r) {
  XMLPrinter p(nullptr, true);
  p.PushHeader(false, true);
  p.OpenElement("Retention", true);
  p.PushAttribute("xmlns", kNamespace);
  p.OpenElement("Mode", true);
  p.PushText(std::string(to_string(r.mode)).c_str());
  p.CloseElement();
  p.OpenElement("RetainUntilDate", true);
  p.PushText(iso8601(r.retain_until).c_str());
  p.CloseElement();
  p.CloseElement();
  return print(p);
}

}  // namespace hsm::repo::s3::xml
