// Text from devices and archives (labels, names, messages) shown safely: a
// label may hold control characters or bytes that are not UTF-8 (made by
// another tool, or before labels were checked), and printing them raw would
// let a label move the cursor, rewrite a terminal line or break a JSON
// document.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace hsm::tool {

// For a terminal: valid UTF-8 printable text as is; control characters
// (C0, DEL, C1) as \n, \r, \t or \xNN / \u{NN}; bytes that are not UTF-8 as
// \xNN.
std::string escaped(std::string_view text);
// For JSON: valid UTF-8 as is (JSON escapes control characters itself);
// bytes that are not UTF-8 as \xNN, so the document always serialises.
std::string json_safe(std::string_view text);
bool is_valid_utf8(std::string_view text);

}  // namespace hsm::tool
