// Secrets come from a file, an environment variable or a prompt on the
// terminal -- never from the command line, where `ps` and shell history see them.
#pragma once

#include <optional>
#include <string>

#include "plugins/api/backend.hpp"

namespace hsm::tool {

// Reads a whole file as a secret, dropping one trailing newline.
// Refuses a regular file that group or others may read or write (usage,
// with the fix `chmod 600 FILE`), as ssh does with a private key.
api::Status check_private_file(int fd, const std::string& path, const std::string& what);
api::Result<api::SecretBytes> read_secret_file(const std::string& path, const std::string& what);
// The partition PIN: --pin-file, else the output of --pin-command, else
// $HSM_MIGRATE_PIN, else the output of $HSM_MIGRATE_PIN_COMMAND, else a
// prompt when stdin is a terminal; otherwise a usage error that says how to
// provide it. A PIN command (restic's --password-command) runs through
// /bin/sh with the address in $HSM_MIGRATE_PIN_FOR; its standard output, one
// trailing newline dropped, is the PIN; a non-zero exit is an error.
api::Result<api::SecretBytes> partition_pin(const std::string& pin_file, const std::string& address);
// --pin-command, for every PIN this process reads (set once by main).
void set_pin_command(const std::string& command);
// Runs a secret command (see partition_pin). Errors: usage (empty output,
// failure), other (cannot run it).
api::Result<api::SecretBytes> run_secret_command(const std::string& command, const std::string& what,
                                                 const std::string& for_address);
// A cloning domain: --domain-file (text domain), --ped-key (PED secret; a new
// random one is created 0600 when the file does not exist), else
// $HSM_MIGRATE_DOMAIN (text), else a prompt on a terminal.
api::Result<api::DomainSecret> domain_secret(const std::string& domain_file, const std::string& ped_key,
                                             const std::string& label);

}  // namespace hsm::tool
