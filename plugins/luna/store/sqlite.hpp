// A small RAII layer over SQLite 3: a connection, prepared statements and an
// explicit transaction (commit is a call, never a destructor; the destructor
// rolls back what was not committed).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <memory>
#include <string_view>

#include "plugins/api/secret.hpp"
#include "plugins/api/status.hpp"
#include "plugins/api/types.hpp"

namespace hsm::luna::store {

class Db;

class Stmt {
 public:
  Stmt(Db& db, std::string_view sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, std::int64_t v);
  Stmt& bind(int i, std::string_view v);
  Stmt& bind(int i, const api::Bytes& v);
  Stmt& bind(int i, const api::SecretBytes& v);
  Stmt& bind_null(int i);
  // SQLITE_ROW -> true, SQLITE_DONE -> false; errors are recorded in status().
  bool step();
  void reset();
  api::Status status() const { return status_; }
  api::Status run();  // step until done

  std::int64_t i64(int col) const;
  std::string text(int col) const;
  api::Bytes blob(int col) const;
  bool is_null(int col) const;

 private:
  Db& db_;
  sqlite3_stmt* s_ = nullptr;
  api::Status status_;
};

class Db {
 public:
  // Opens (creating if asked) with WAL, full sync, a busy timeout and 0600 files.
  static api::Result<std::unique_ptr<Db>> open(const std::filesystem::path& path, bool create);
  ~Db();
  sqlite3* raw() { return db_; }
  api::Status exec(std::string_view sql);
  api::Error error(std::string_view what) const;
  std::int64_t last_rowid() const { return sqlite3_last_insert_rowid(db_); }

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

class Transaction {
 public:
  explicit Transaction(Db& db);
  ~Transaction();
  api::Status begin();  // BEGIN IMMEDIATE: one writer at a time
  api::Status commit();

 private:
  Db& db_;
  bool open_ = false;
};

}  // namespace hsm::luna::store
