#!/bin/bash
# Runs the README's "Using it" walkthrough (the sh block after the
# <!-- walkthrough --> marker) exactly as written, from the repository root,
# with the built hsm-migrate first on PATH: the README cannot drift from the
# tool. Usage: walkthrough_test.sh SOURCE_DIR BIN_DIR
set -euo pipefail
src=$1
bin=$2
script=$(awk '/<!-- walkthrough -->/{f=1; next} f && /^```sh/{b=1; next} b && /^```/{exit} b{print}' "$src/README.md")
[ -n "$script" ] || { echo "README.md has no walkthrough block" >&2; exit 1; }
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
mkdir "$home/tmp"
cd "$src"
# A clean environment, as on a fresh machine: no fleet, no secrets set; the
# walkthrough's own scratch folder (mktemp -d) lands in $home/tmp.
env -i PATH="$bin:/usr/bin:/bin" HOME="$home" TMPDIR="$home/tmp" \
  HSM_MIGRATE_CLOUD_LATENCY_MS=0 bash -euo pipefail -c "$script" > "$home/out.txt" 2>&1 || {
  echo "the README walkthrough failed; its output:" >&2
  cat "$home/out.txt" >&2
  exit 1
}
# What a reader is promised: the last verify authenticated the nightly archive.
verified=$(find "$home/tmp" -name verified.json | head -n 1)
grep -q '"authenticated": true' "$verified" || { echo "the walkthrough's last verify did not authenticate" >&2; exit 1; }
grep -q "restored 12 object(s) into hsm-b/restored" "$home/out.txt" || {
  cat "$home/out.txt" >&2
  echo "the walkthrough's restore did not restore the 12 objects" >&2
  exit 1
}
grep -q "identical: the same 12 object(s) by fingerprint" "$home/out.txt" || {
  cat "$home/out.txt" >&2
  echo "the walkthrough's diff did not find the archive and the restored partition identical" >&2
  exit 1
}
echo "README walkthrough: OK"
