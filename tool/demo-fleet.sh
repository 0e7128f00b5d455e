#!/bin/sh
# The embedded default job: an emulated Luna 6 / Luna 7 fleet in ./demo-fleet,
# with keys generated and listed. Secrets come from the environment, as a
# cron job would set them (never from the command line).
set -eu
BIN=${BIN:-build/bin/hsm-migrate}
export HSM_MIGRATE_HOME=${HSM_MIGRATE_HOME:-$PWD/demo-fleet}
export HSM_MIGRATE_PIN=${HSM_MIGRATE_PIN:-demo-partition-pin}
export HSM_MIGRATE_DOMAIN=${HSM_MIGRATE_DOMAIN:-demo-cloning-domain}
if ! "$BIN" device show luna6-a >/dev/null 2>&1; then
  "$BIN" device create luna6-a --kind luna6 --firmware 6.10.9
  "$BIN" device create luna7-b --kind luna7 --firmware 7.8.0
  "$BIN" partition create luna6-a/app
  "$BIN" partition create luna7-b/app
  "$BIN" key generate luna6-a/app --type aes-256 --count 3 --label nightly
  "$BIN" key generate luna6-a/app --type rsa-2048 --label signing
  "$BIN" key generate luna7-b/app --type ec-p384 --label tls
fi
"$BIN" device list
"$BIN" object list luna6-a/app
"$BIN" object list luna7-b/app
