// The plan parser's table reader: typed accessors over one TOML table that
// mark each key used and collect "FILE:LINE: ..." diagnostics; internal to
// migrations/plan_parse*.cpp.
#pragma once

#include <toml++/toml.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "migrations/plan.hpp"

namespace hsm::plans::detail {

struct Diag {
  int line;
  std::string message;
};

// A plan's text as it may appear in a message: control characters (which a
// plan may hold, and toml++ quotes raw) as \xNN, so one problem stays one line.
inline std::string printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

inline int line_of(const toml::node& n) { return static_cast<int>(n.source().begin.line); }

inline std::string type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a floating-point number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    default: return "nothing";
  }
}

inline std::string join(const std::vector<std::string>& v, const std::string& sep = ", ") {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

inline bool valid_name(std::string_view n, std::size_t max) {
  return !n.empty() && n.size() <= max && n[0] != '.' &&
         n.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
             std::string_view::npos;
}

// Reads one TOML table: each accessor marks its key used and reports a wrong
// type; finish() reports every key not in `allowed`.
class Reader {
 public:
  Reader(std::vector<Diag>& diags, const toml::table& t, std::string what, std::vector<std::string> allowed)
      : diags_(diags), t_(t), what_(std::move(what)), allowed_(std::move(allowed)) {}

  int line() const { return line_of(t_); }
  const std::string& what() const { return what_; }
  void set_what(std::string w) { what_ = std::move(w); }
  void error(int line, const std::string& msg) { diags_.push_back({line, msg}); }

  const toml::node* node(std::string_view key) {
    const toml::node* n = t_.get(key);
    return n;
  }
  bool has(std::string_view key) const { return t_.contains(key); }
  int line_of_key(std::string_view key) const {
    const toml::node* n = t_.get(key);
    return n ? line_of(*n) : line();
  }

  void wrong(std::string_view key, const toml::node& n, const std::string& expected) {
    error(line_of(n), "key \"" + std::string(key) + "\" in " + what_ + ": expected " + expected + ", found " +
                          type_name(n));
  }
  void missing(std::string_view key, const std::string& expected) {
    error(line(), what_ + " needs key \"" + std::string(key) + "\" (" + expected + ")");
  }

  std::optional<std::string> str(std::string_view key, bool required = false,
                                 const std::string& expected = "a string") {
    const toml::node* n = node(key);
    if (!n) {
      if (required) missing(key, expected);
      return std::nullopt;
    }
    if (!n->is_string()) {
      wrong(key, *n, expected);
      return std::nullopt;
    }
    return n->as_string()->get();
  }

  std::optional<bool> boolean(std::string_view key) {
    const toml::node* n = node(key);
    if (!n) return std::nullopt;
    if (!n->is_boolean()) {
      wrong(key, *n, "true or false");
      return std::nullopt;
    }
    return n->as_boolean()->get();
  }

  std::optional<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max,
                                      bool required = false) {
    const std::string expected = "an integer from " + std::to_string(min) + " to " + std::to_string(max);
    const toml::node* n = node(key);
    if (!n) {
      if (required) missing(key, expected);
      return std::nullopt;
    }
    if (!n->is_integer()) {
      wrong(key, *n, expected);
      return std::nullopt;
    }
    std::int64_t v = n->as_integer()->get();
    if (v < min || v > max) {
      error(line_of(*n), "key \"" + std::string(key) + "\" in " + what_ + ": expected " + expected +
                             ", found " + std::to_string(v));
      return std::nullopt;
    }
    return v;
  }

  std::optional<std::vector<std::string>> strings(std::string_view key, bool required = false,
                                                  const std::string& expected = "an array of strings") {
    const toml::node* n = node(key);
    if (!n) {
      if (required) missing(key, expected);
      return std::nullopt;
    }
    if (!n->is_array()) {
      wrong(key, *n, expected);
      return std::nullopt;
    }
    std::vector<std::string> out;
    bool ok = true;
    for (const auto& e : *n->as_array()) {
      if (!e.is_string()) {
        wrong(key, e, expected + " (each element a string)");
        ok = false;
        continue;
      }
      out.push_back(e.as_string()->get());
    }
    if (!ok) return std::nullopt;
    return out;
  }

  // An array of tables (`[[x]]` or `x = [{...}, ...]`); null when absent.
  std::vector<const toml::table*> tables(std::string_view key, const std::string& expected) {
    std::vector<const toml::table*> out;
    const toml::node* n = node(key);
    if (!n) return out;
    if (!n->is_array()) {
      wrong(key, *n, expected);
      return out;
    }
    for (const auto& e : *n->as_array()) {
      if (!e.is_table()) {
        wrong(key, e, expected);
        continue;
      }
      out.push_back(e.as_table());
    }
    return out;
  }

  // { 42 = 1, 7 = 0 }: policy numbers to 0/1, in numeric order.
  std::optional<std::map<int, int>> policy_table(std::string_view key) {
    const toml::node* n = node(key);
    if (!n) return std::nullopt;
    if (!n->is_table()) {
      wrong(key, *n, "a table of policy numbers to 0 or 1, like { 42 = 1 }");
      return std::nullopt;
    }
    std::map<int, int> out;
    bool ok = true;
    for (const auto& [k, v] : *n->as_table()) {
      auto id = policy_number(k.str());
      if (!id) {
        error(static_cast<int>(k.source().begin.line),
              "key \"" + std::string(key) + "\" in " + what_ + ": \"" + std::string(k.str()) +
                  "\" is not a policy number (expected an integer from 0 to 999)");
        ok = false;
        continue;
      }
      if (!v.is_integer() || (v.as_integer()->get() != 0 && v.as_integer()->get() != 1)) {
        error(line_of(v), "policy " + std::string(k.str()) + " in " + what_ + ": expected 0 or 1, found " +
                              (v.is_integer() ? std::to_string(v.as_integer()->get()) : type_name(v)));
        ok = false;
        continue;
      }
      out[*id] = static_cast<int>(v.as_integer()->get());
    }
    if (!ok) return std::nullopt;
    return out;
  }

  static std::optional<int> policy_number(std::string_view s) {
    if (s.empty() || s.size() > 3 || s.find_first_not_of("0123456789") != std::string_view::npos)
      return std::nullopt;
    return std::stoi(std::string(s));
  }

  void finish() {
    for (const auto& [k, v] : t_) {
      const std::string key(k.str());
      if (std::find(allowed_.begin(), allowed_.end(), key) != allowed_.end()) continue;
      error(static_cast<int>(k.source().begin.line),
            "unknown key \"" + key + "\" in " + what_ + "; expected one of: " + join(allowed_));
    }
  }

 private:
  std::vector<Diag>& diags_;
  const toml::table& t_;
  std::string what_;
  std::vector<std::string> allowed_;
};

template <class E>
std::optional<E> read_enum(Reader& r, std::string_view key, std::optional<E> (*parse)(std::string_view),
                           const std::string& choices, bool required = false) {
  auto s = r.str(key, required, "one of " + choices);
  if (!s) return std::nullopt;
  auto e = parse(*s);
  if (!e) r.error(r.line_of_key(key), "key \"" + std::string(key) + "\" in " + r.what() + ": \"" + *s +
                                          "\" is not valid; expected one of " + choices);
  return e;
}

inline std::optional<Address> parse_address(Reader& r, std::string_view key, const std::string& text, int line,
                                     bool partition_required = true) {
  const auto slash = text.find('/');
  Address a;
  if (slash == std::string::npos) {
    a.device = text;
  } else {
    a.device = text.substr(0, slash);
    a.partition = text.substr(slash + 1);
  }
  const bool bad = (partition_required && slash == std::string::npos) || !valid_name(a.device, 64) ||
                   (slash != std::string::npos && !valid_name(a.partition, 32));
  if (bad) {
    r.error(line, "key \"" + std::string(key) + "\" in " + r.what() + ": \"" + text + "\" is not " +
                      (partition_required ? "a partition address; expected \"DEVICE/PARTITION\""
                                          : "a device name or partition address"));
    return std::nullopt;
  }
  return a;
}

inline std::optional<Address> read_address(Reader& r, std::string_view key, bool required) {
  auto s = r.str(key, required, "a partition address \"DEVICE/PARTITION\"");
  if (!s) return std::nullopt;
  return parse_address(r, key, *s, r.line_of_key(key));
}

inline std::optional<std::vector<Address>> read_addresses(Reader& r, std::string_view key, bool required) {
  auto v = r.strings(key, required, "an array of partition addresses \"DEVICE/PARTITION\"");
  if (!v) return std::nullopt;
  std::vector<Address> out;
  for (const auto& s : *v) {
    auto a = parse_address(r, key, s, r.line_of_key(key));
    if (!a) return std::nullopt;
    out.push_back(*a);
  }
  return out;
}

inline std::optional<api::Version> read_version(Reader& r, std::string_view key, bool required) {
  auto s = r.str(key, required, "a version string like \"7.7.0\"");
  if (!s) return std::nullopt;
  auto v = api::Version::parse(*s);
  if (!v) r.error(r.line_of_key(key), "key \"" + std::string(key) + "\" in " + r.what() + ": \"" + *s +
                                          "\" is not a version; expected a string like \"7.7.0\"");
  return v;
}

}  // namespace hsm::plans::detail
