// toml++'s implementation, compiled into plan_parse_fuzz with the fuzzer's
// coverage and sanitizers (Debian ships it as an uninstrumented shared
// library): the fuzzer then sees TOML syntax it has not tried yet, not only
// new paths in the plan parser behind it. Same headers, same version as the
// library, so the two definitions are one and the same.
#define TOML_IMPLEMENTATION
#include <toml++/toml.h>
