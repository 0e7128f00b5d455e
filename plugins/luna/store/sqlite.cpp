#include "plugins/luna/store/sqlite.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hsm::luna::store {

using api::Error;
using api::Status;

Stmt::Stmt(Db& db, std::string_view sql) : db_(db) {
  if (sqlite3_prepare_v2(db.raw(), sql.data(), static_cast<int>(sql.size()), &s_, nullptr) != SQLITE_OK)
    status_ = db.error("prepare");
}
Stmt::~Stmt() { sqlite3_finalize(s_); }

Stmt& Stmt::bind(int i, std::int64_t v) {
  if (s_) sqlite3_bind_int64(s_, i, v);
  return *this;
}
Stmt& Stmt::bind(int i, std::string_view v) {
  if (s_) sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::bind(int i, const api::Bytes& v) {
  if (s_) sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::bind(int i, const api::SecretBytes& v) {
  // Only sealed data is ever bound from SecretBytes-free paths; secrets bound
  // here are already ciphertext. Kept for symmetry with sealed buffers.
  if (s_) sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::bind_null(int i) {
  if (s_) sqlite3_bind_null(s_, i);
  return *this;
}

bool Stmt::step() {
  if (!s_ || !status_.ok()) return false;
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) status_ = db_.error(std::string("step of ") + std::string(sqlite3_sql(s_)).substr(0, 60));
  return false;
}
void Stmt::reset() {
  if (s_) {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
}
Status Stmt::run() {
  while (step()) {
  }
  return status_;
}

std::int64_t Stmt::i64(int col) const { return sqlite3_column_int64(s_, col); }
std::string Stmt::text(int col) const {
  const auto* p = sqlite3_column_text(s_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(s_, col)))
           : std::string();
}
api::Bytes Stmt::blob(int col) const {
  const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(s_, col));
  return p ? api::Bytes(p, p + sqlite3_column_bytes(s_, col)) : api::Bytes();
}
bool Stmt::is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }

api::Result<std::unique_ptr<Db>> Db::open(const std::filesystem::path& path, bool create) {
  if (create) {
    // Create the file 0600 ourselves so SQLite never makes it world-readable.
    int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) return Error::other("cannot create " + path.string() + ": " + std::strerror(errno));
    ::close(fd);
  } else if (!std::filesystem::exists(path)) {
    return Error::usage("no device state at " + path.string());
  }
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<Db> db(new Db(raw));
  if (rc != SQLITE_OK) return db->error("open " + path.string());
  sqlite3_busy_timeout(raw, 10000);
  // WAL and -shm files inherit the database file's mode (0600).
  HSM_TRY(db->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"));
  return db;
}

Db::~Db() { sqlite3_close_v2(db_); }

Status Db::exec(std::string_view sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string m = msg ? msg : "unknown";
    sqlite3_free(msg);
    int code = sqlite3_errcode(db_);
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
      return Error::busy("device state is locked by another process: " + m);
    if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB)
      return Error::integrity("device state is corrupt: " + m);
    return Error::other("device state: " + m);
  }
  return {};
}

Error Db::error(std::string_view what) const {
  int code = sqlite3_errcode(db_);
  std::string m = std::string(what) + ": " + sqlite3_errmsg(db_);
  if (code == SQLITE_BUSY || code == SQLITE_LOCKED) return Error::busy("device state is locked: " + m);
  if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) return Error::integrity("device state is corrupt: " + m);
  return Error::other("device state: " + m);
}

Transaction::Transaction(Db& db) : db_(db) {}
Transaction::~Transaction() {
  if (open_) (void)db_.exec("ROLLBACK");
}
Status Transaction::begin() {
  HSM_TRY(db_.exec("BEGIN IMMEDIATE"));
  open_ = true;
  return {};
}
Status Transaction::commit() {
  HSM_TRY(db_.exec("COMMIT"));
  open_ = false;
  return {};
}

}  // namespace hsm::luna::store
