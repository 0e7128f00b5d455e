#!/bin/bash
# Runs the first crontab line of man/hsm-migrate.1 (EXAMPLES) the way cron
# does: the five time fields dropped, the command cut at the first unescaped
# '%' (what follows would be its standard input), each '\%' made '%', then
# /bin/sh -c with a minimal environment. The archive it writes must exist
# under a name whose template was expanded, and verify.
# Usage: crontab_test.sh SOURCE_DIR BIN_DIR
set -euo pipefail
src=$1
bin=$2
line=$(awk '/^\.SH EXAMPLES/{e=1} e && /crontab/{c=1} c && /^\.nf/{n=1; next} n{print; exit}' "$src/man/hsm-migrate.1")
[ -n "$line" ] || { echo "no crontab line in man/hsm-migrate.1" >&2; exit 1; }
# roff to text: \- is '-', \e is '\'.
line=${line//'\-'/-}
line=${line//'\e'/'\'}
# cron(8): five fields, then the command up to the first unescaped %.
command=$(printf '%s\n' "$line" | sed -E 's/^([^ ]+ +){5}//')
cmd=""
rest=$command
while [ -n "$rest" ]; do
  c=${rest:0:1}
  if [ "$c" = '\' ] && [ "${rest:1:1}" = '%' ]; then cmd+='%'; rest=${rest:2}; continue; fi
  [ "$c" = '%' ] && break
  cmd+=$c
  rest=${rest:1}
done
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
mkdir -p "$home/backups"
export HSM_MIGRATE_HOME="$home/fleet" HSM_MIGRATE_PIN=cron-pin HSM_MIGRATE_DOMAIN=cron-domain
export PATH="$bin:/usr/bin:/bin"
hsm-migrate --quiet device create hsm-a --kind luna6 --firmware 6.10.9
hsm-migrate --quiet partition create hsm-a/p1
hsm-migrate --quiet key generate hsm-a/p1 --type aes-256 --count 3
# cron's environment: HOME, SHELL, PATH, LOGNAME and what the crontab sets.
env -i HOME="$home" SHELL=/bin/sh LOGNAME=root PATH="$bin:/usr/bin:/bin" HSM_MIGRATE_HOME="$HSM_MIGRATE_HOME" \
  HSM_MIGRATE_PIN=cron-pin /bin/sh -c "$cmd" < /dev/null
archives=("$home"/backups/p1-*.hsmar)
[ ${#archives[@]} -eq 1 ] && [ -f "${archives[0]}" ] || { echo "the crontab line wrote no archive: $cmd" >&2; ls -la "$home/backups" >&2; exit 1; }
name=$(basename "${archives[0]}")
[[ "$name" =~ ^p1-[0-9]{8}-[0-9]{6}\.hsmar$ ]] || { echo "the name template was not expanded: $name" >&2; exit 1; }
hsm-migrate --quiet verify "${archives[0]}"
echo "crontab line: OK ($name)"
