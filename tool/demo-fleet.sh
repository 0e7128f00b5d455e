#!/bin/sh
# The embedded default job: the built-in plan luna6-to-luna7 on an emulated
# fleet in ./demo-fleet. The plan creates what is absent (a Luna 6 HA pair
# with keys, two Luna 7 members -- one in FIPS mode -- and a Backup HSM G5),
# moves the keys into a new Luna 7 HA group the way the rules allow, and the
# script lists the objects each target holds.
#
# Secrets come from the environment, as a cron job would set them (never from
# the command line); demo defaults are used when they are not set. The plan
# runs once: a second run of the script says so and only lists the objects
# (`--resume` finishes a run that was interrupted).
set -eu
BIN=${BIN:-build/bin/hsm-migrate}
export HSM_MIGRATE_HOME=${HSM_MIGRATE_HOME:-$PWD/demo-fleet}
export HSM_MIGRATE_PIN=${HSM_MIGRATE_PIN:-demo-partition-pin}
export HSM_MIGRATE_DOMAIN=${HSM_MIGRATE_DOMAIN:-demo-cloning-domain}

# plan run checks the plan first (refusing to start on any problem), then
# prints each setup item and step as it goes.
status=0
"$BIN" plan run luna6-to-luna7 || status=$?
if [ "$status" -eq 2 ]; then
  # A run interrupted earlier (exit 2 names --resume): finish it.
  "$BIN" plan run luna6-to-luna7 --resume
elif [ "$status" -ne 0 ]; then
  exit "$status"
fi
"$BIN" device list
"$BIN" hagroup list
for target in luna6-a/app luna7-a/app luna7-b/app; do
  echo "== $target"
  "$BIN" object list "$target"
done
