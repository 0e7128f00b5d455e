// One home for how an object row of the device store (schema.hpp, table
// `object`) maps to an api::ObjectDesc: the column list every query selects
// and the reader of those columns, shared by listing, cloning and archives.
#pragma once

#include <string>
#include <vector>

#include "plugins/api/backend.hpp"
#include "plugins/luna/store/sqlite.hpp"

namespace hsm::luna {

// Columns 0..18, in the order read_object_row reads them.
inline constexpr const char* kObjectColumns =
    "handle, label, id_hex, class, key_type, bits, curve, extractable, sensitive, assigned, "
    "per_key_auth, key_ring, des3_counters, unknown_attr, keygen, origin_fm, travelled, "
    "fingerprint, pair_id";
// kObjectColumns, then 19 public_der and 20 material_sealed.
inline constexpr const char* kObjectColumnsWithMaterial =
    "handle, label, id_hex, class, key_type, bits, curve, extractable, sensitive, assigned, "
    "per_key_auth, key_ring, des3_counters, unknown_attr, keygen, origin_fm, travelled, "
    "fingerprint, pair_id, public_der, material_sealed";
inline constexpr int kPublicDerColumn = 19;
inline constexpr int kMaterialSealedColumn = 20;

// Fills `d` from the current row (reusing its buffers in a streaming loop).
void read_object_row(const store::Stmt& q, api::ObjectDesc& d);

// The `travelled` column: protocol names joined by commas.
std::string join_protocols(const std::vector<api::Protocol>& ps);
std::vector<api::Protocol> split_protocols(const std::string& s);

}  // namespace hsm::luna
