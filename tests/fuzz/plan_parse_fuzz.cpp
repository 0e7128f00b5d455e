// libFuzzer target for the plan parser (migrations/plan.hpp,
// migrations/plan_parse.cpp): parse_plan_string() over arbitrary text.
// Seed corpus: tests/fuzz/corpus/plan_parse/ (the built-in plans of
// migrations/plans/).
//
// Invariants checked beyond "no crash, no sanitizer report, no exception":
//   - a refused plan is a usage error listing its problems, each naming the
//     plan and a line, each one printable line; its message is the one
//     problem ("fuzz.toml:LINE: ...") or "plan fuzz.toml has N problems";
//   - an accepted plan survives its canonical form: plan_to_toml() parses
//     again, and the canonical form of that is the same text (plan.hpp:
//     "parse_plan_string(plan_to_toml(p)) gives p back (lines aside)").
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "migrations/plan.hpp"

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "plan_parse_fuzz: %s\n%s\n", what, detail.c_str());
  __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto plan = hsm::plans::parse_plan_string(text, "fuzz.toml");
  if (!plan.ok()) {
    const auto& e = plan.error();
    if (e.kind != hsm::api::ErrorKind::usage)
      fail("a refused plan is not a usage error", e.message);
    // Every refusal lists its problems, each naming the plan and a line, on
    // one line of its own (control characters escaped); the message is the
    // one problem ("fuzz.toml:LINE: ...") or counts them.
    if (e.problems.empty()) fail("a refusal lists no problem", e.message);
    for (const auto& p : e.problems) {
      if (p.file != "fuzz.toml" || p.line < 1) fail("a problem does not name the plan and a line", p.message);
      for (unsigned char c : p.message)
        if (c < 0x20 || c == 0x7f) fail("a problem is not one printable line", p.message);
    }
    const bool one = e.problems.size() == 1;
    if (e.message.rfind(one ? "fuzz.toml:" : "plan fuzz.toml has ", 0) != 0)
      fail("the refusal does not name the plan", e.message);
    return 0;
  }
  const std::string canonical = hsm::plans::plan_to_toml(*plan);
  auto again = hsm::plans::parse_plan_string(canonical, "canonical.toml");
  if (!again.ok())
    fail("the canonical form of an accepted plan does not parse",
         again.error().message + "\n---\n" + canonical);
  const std::string twice = hsm::plans::plan_to_toml(*again);
  if (twice != canonical) fail("the canonical form is not stable", canonical + "\n---\n" + twice);
  return 0;
}
