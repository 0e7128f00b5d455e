// key sign | key verify | key encrypt | key decrypt
// Uses of a key inside its partition, so that a person (or a test) can prove
// that a clone moved the same key: sign on one partition, verify on the
// other by the object's label or id (clones keep CKA_LABEL and CKA_ID); or
// encrypt on one and decrypt on the other. Key material never leaves the
// device model; only the caller's data, signatures and ciphertexts do.
#include <fstream>
#include <iostream>
#include <iterator>

#include "formats/atomic_file.hpp"
#include "tool/context.hpp"

namespace hsm::tool {
namespace {

using api::Error;
using api::Result;
using api::Status;

enum class Use { sign, verify, encrypt, decrypt };

std::string_view name_of(Use u) {
  switch (u) {
    case Use::sign: return "sign";
    case Use::verify: return "verify";
    case Use::encrypt: return "encrypt";
    case Use::decrypt: return "decrypt";
  }
  return "";
}

// Which object classes can do `u`, best first. A label may name a key pair
// (private and public object) or one private object holding both halves.
std::vector<api::ObjectClass> classes_for(Use u) {
  using C = api::ObjectClass;
  switch (u) {
    case Use::sign: return {C::private_key};
    case Use::verify: return {C::public_key, C::private_key};
    case Use::encrypt: return {C::secret_key, C::public_key, C::private_key};
    case Use::decrypt: return {C::secret_key, C::private_key};
  }
  return {};
}

Result<api::ObjectDesc> pick(api::Partition& part, const std::string& selector, Use u,
                             const std::string& address) {
  HSM_TRY_ASSIGN(auto objects, part.find_objects(selector));
  if (objects.empty())
    return Error::usage("no object matches \"" + selector + "\" in " + address,
                        "see `hsm-migrate object list " + address + "`");
  for (api::ObjectClass c : classes_for(u)) {
    std::vector<const api::ObjectDesc*> hits;
    for (const auto& o : objects)
      if (o.cls == c) hits.push_back(&o);
    if (hits.size() == 1) return *hits.front();
    if (hits.size() > 1)
      return Error::usage(std::to_string(hits.size()) + " " + std::string(api::to_string(c)) +
                              " objects match \"" + selector + "\" in " + address,
                          "name one object: #HANDLE or id:HEX");
  }
  return Error::usage("no object matching \"" + selector + "\" in " + address + " can " +
                      std::string(name_of(u)));
}

Result<api::Bytes> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::usage("cannot read " + path);
  api::Bytes data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Error::other("error reading " + path);
  return data;
}

Status run(Context& ctx, const std::vector<std::string>& args, Use u) {
  po::options_description desc(std::string("key ") + std::string(name_of(u)));
  desc.add_options()("object", po::value<std::string>()->required(), "a label, #handle or id:HEX")(
      "in", po::value<std::string>()->required(), "input file");
  if (u == Use::verify)
    desc.add_options()("signature", po::value<std::string>()->required(), "signature file");
  else
    desc.add_options()("out", po::value<std::string>()->required(), "output file (written 0600)");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"address"}));
  const std::string address = vm["address"].as<std::string>();
  HSM_TRY_ASSIGN(Address a, parse_address(address));
  HSM_TRY_ASSIGN(api::Bytes input, read_file(vm["in"].as<std::string>()));
  HSM_TRY_ASSIGN(auto part, ctx.fleet->open_partition(a));
  HSM_TRY(ctx.login(*part, a));
  HSM_TRY_ASSIGN(api::ObjectDesc o, pick(*part, vm["object"].as<std::string>(), u, address));
  json doc{{"partition", address}, {"operation", name_of(u)}, {"handle", o.handle}, {"label", o.label}};

  if (u == Use::verify) {
    HSM_TRY_ASSIGN(api::Bytes sig, read_file(vm["signature"].as<std::string>()));
    HSM_TRY_ASSIGN(bool good, part->verify(o.handle, input, sig));
    doc["verified"] = good;
    ctx.emit(doc, [&](std::ostream& os) {
      os << "signature " << (good ? "verifies" : "does NOT verify") << " with #" << o.handle << " "
         << o.label << " in " << address << "\n";
    });
    if (!good)  // exit 4: the data or the signature is not what the key signed
      return Error::integrity("the signature does not verify with #" + std::to_string(o.handle) + " " +
                              o.label + " in " + address);
    return {};
  }
  Result<api::Bytes> produced = u == Use::sign      ? part->sign(o.handle, input)
                                : u == Use::encrypt ? part->encrypt(o.handle, input)
                                                    : part->decrypt(o.handle, input);
  if (!produced.ok()) return produced.error();
  const api::Bytes& output = *produced;
  const std::string out_path = vm["out"].as<std::string>();
  // The output may be plaintext: 0600, temp+fsync+rename (never half-written).
  HSM_TRY(formats::write_file_atomic(out_path, output, {.overwrite = true, .mode = 0600}));
  doc["out"] = out_path;
  doc["bytes"] = output.size();
  ctx.emit(doc, [&](std::ostream& os) {
    os << name_of(u) << ": #" << o.handle << " " << o.label << " in " << address << " -> " << out_path
       << " (" << output.size() << " bytes)\n";
  });
  return {};
}

}  // namespace

void add_key_use_commands(std::vector<Command>& out) {
  out.push_back({"key sign", "key sign DEV/PART --object SEL --in FILE --out FILE",
                 [](Context& c, const std::vector<std::string>& a) { return run(c, a, Use::sign); }});
  out.push_back({"key verify", "key verify DEV/PART --object SEL --in FILE --signature FILE",
                 [](Context& c, const std::vector<std::string>& a) { return run(c, a, Use::verify); }});
  out.push_back({"key encrypt", "key encrypt DEV/PART --object SEL --in FILE --out FILE",
                 [](Context& c, const std::vector<std::string>& a) { return run(c, a, Use::encrypt); }});
  out.push_back({"key decrypt", "key decrypt DEV/PART --object SEL --in FILE --out FILE",
                 [](Context& c, const std::vector<std::string>& a) { return run(c, a, Use::decrypt); }});
}

}  // namespace hsm::tool
