#!/bin/bash
# The installation test (issue 11 §3): what `cmake --install` and `cpack -G DEB`
# produce, used the way an administrator would, away from the build tree.
#
#   tests/install/install_test.sh BUILD_DIR
#
# 1. cmake --install into a temporary prefix: every file where it belongs,
#    the units naming that prefix's binary, and a DESTDIR staging install.
# 2. From the prefix, with no flag and no HSM_MIGRATE_* path variable: the
#    plugins load, the built-in plans are found there, and the README's main
#    job (tool/demo-fleet.sh: `plan run luna6-to-luna7` on a fresh emulated
#    fleet) finishes; a copy of the prefix elsewhere works the same.
# 3. `man -M PREFIX/share/man hsm-migrate` (and the plan page) render.
# 4. The systemd units pass `systemd-analyze verify`, and the service's
#    ExecStart line, run as written, does a nightly backup.
# 5. `cpack -G DEB` builds a package with a maintainer, dependencies and the
#    files; with HSM_MIGRATE_TEST_DEB=1, as root, it is installed with dpkg,
#    run from /usr, and removed (CI's machine is thrown away afterwards).
#
# (Pipelines end in `grep >/dev/null`, not `grep -q`: under pipefail an early
# exit of grep -q can fail the writer with SIGPIPE.)
# Needs (.ci/install-deps): man-db, dpkg-dev (dpkg-shlibdeps), systemd
# (systemd-analyze), python3. A missing one fails the test; nothing is skipped
# except step 5's dpkg part when not asked for.
set -euo pipefail

build=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/hsm-install-test.XXXXXX)
deb_installed=0
cleanup() {
  if [ "$deb_installed" = 1 ]; then dpkg --purge hsm-migrate >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
# A command that fails outside a check of its own still names its line.
trap 'echo "install test: FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR

t0=$(date +%s)
step() { echo "-- [$(($(date +%s) - t0)) s] $*"; }
fail() {
  echo "install test: FAIL: $*" >&2
  exit 1
}
need() { command -v "$1" >/dev/null || fail "$1 is missing (package $2; see .ci/install-deps)"; }
need man man-db
need dpkg-shlibdeps dpkg-dev
need systemd-analyze systemd
need python3 python3
need cpack cmake
[ -x "$build/bin/hsm-migrate" ] || fail "$build/bin/hsm-migrate is not built"

# The installed tool must find everything by itself: no path variable may help.
unset HSM_MIGRATE_PLUGIN_PATH HSM_MIGRATE_PLAN_PATH HSM_MIGRATE_HOME
export HSM_MIGRATE_PIN=install-test-partition-pin
export HSM_MIGRATE_DOMAIN=install-test-cloning-domain

json_get() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# ---- 1. cmake --install -------------------------------------------------------
prefix=$work/prefix
step "cmake --install --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log" || {
  cat "$work/install.log"
  fail "cmake --install failed"
}
bin=$prefix/bin/hsm-migrate
[ -x "$bin" ] || fail "no executable $bin"
# lib/hsm-migrate/plugins, or lib/<multiarch>/... (GNUInstallDirs for /usr).
plugin_dir=$(find "$prefix/lib" -type d -path '*/hsm-migrate/plugins' | head -n1)
[ -n "$plugin_dir" ] || fail "no plugin folder under $prefix/lib"
for kind in luna6 luna7 cloud backup-g5; do
  [ -f "$plugin_dir/libhsm-$kind.so" ] || fail "plugin libhsm-$kind.so not installed in $plugin_dir"
done
for f in share/hsm-migrate/plans/luna6-to-luna7.toml share/hsm-migrate/plans/nightly-backup.toml \
  share/man/man1/hsm-migrate.1.gz share/man/man5/hsm-migrate-plan.5.gz share/man/man5/hsm-migrate-archive.5.gz \
  'lib/systemd/system/hsm-migrate-plan@.service' 'lib/systemd/system/hsm-migrate-plan@.timer' \
  share/doc/hsm-migrate/systemd.md; do
  [ -f "$prefix/$f" ] || fail "$f not installed"
done
for f in "$src"/man/*.[1-8]; do
  name=$(basename "$f")
  [ -f "$prefix/share/man/man${name##*.}/$name.gz" ] || fail "man page $name not installed"
done
# The completions, generated from the command table at build time.
grep -q "complete -F _hsm_migrate hsm-migrate" "$prefix/share/bash-completion/completions/hsm-migrate" ||
  fail "bash completion not installed"
grep -q "^#compdef hsm-migrate" "$prefix/share/zsh/vendor-completions/_hsm-migrate" || fail "zsh completion not installed"
unit=$prefix/lib/systemd/system/hsm-migrate-plan@.service
grep -qx "ExecStart=$bin plan run %i" "$unit" || fail "$unit does not run $bin: $(grep ExecStart= "$unit")"
# Installed files only: nothing of the build tree (tests, benchmarks, the
# deliberately broken test plugins) rides along.
stray=$(sed "s|^$prefix/||" "$build/install_manifest.txt" | grep -E 'test|bench|fuzz' || true)
[ -z "$stray" ] || fail "test files installed: $stray"

step "DESTDIR staging install (what packagers do)"
DESTDIR=$work/stage cmake --install "$build" --prefix /opt/hsm-migrate >/dev/null
[ -x "$work/stage/opt/hsm-migrate/bin/hsm-migrate" ] || fail "DESTDIR install has no binary"
grep -qx 'ExecStart=/opt/hsm-migrate/bin/hsm-migrate plan run %i' \
  "$work/stage/opt/hsm-migrate/lib/systemd/system/hsm-migrate-plan@.service" ||
  fail "the DESTDIR unit must name the final path, not the staging folder"

# ---- 2. run from the prefix -------------------------------------------------------
step "plugins from the prefix, no flag"
# Run from an unrelated folder: nothing may depend on the current directory.
cd "$work"
"$bin" --version | grep '^hsm-migrate ' >/dev/null || fail "--version"
"$bin" --json plugins >"$work/plugins.json" || fail "hsm-migrate plugins failed"
kinds=$(json_get '" ".join(sorted(p["kind"] for p in d["loaded"]))' <"$work/plugins.json")
for kind in backup-g5 cloud luna6 luna7; do
  [[ " $kinds " == *" $kind "* ]] || fail "plugin $kind not loaded from the prefix (loaded: $kinds)"
done
[ "$(json_get 'len(d["refused"])' <"$work/plugins.json")" = 0 ] || fail "refused plugins: $(cat "$work/plugins.json")"
files=$(json_get '" ".join(p["file"] for p in d["loaded"])' <"$work/plugins.json")
for f in $files; do
  [[ "$f" == "$plugin_dir/"* ]] || fail "plugin $f loaded from outside the prefix ($plugin_dir)"
done

step "built-in plans from the prefix"
# The refusal of an unknown plan names the folders looked in, in order: the
# prefix's plan folder comes before anything else.
"$bin" plan check no-such-plan-xyz >/dev/null 2>"$work/noplan.err" && fail "an unknown plan was accepted"
first=$(sed -n 's/.*(looked in \([^,)]*\).*/\1/p' "$work/noplan.err")
[ "$(readlink -f "$first")" = "$(readlink -f "$prefix/share/hsm-migrate/plans")" ] ||
  fail "plans are not looked for in the prefix first: $(cat "$work/noplan.err")"

step "the main job from the prefix: plan run luna6-to-luna7 on a fresh fleet"
export HSM_MIGRATE_HOME=$work/fleet
"$bin" plan run luna6-to-luna7 >"$work/plan.out" 2>&1 || {
  cat "$work/plan.out"
  fail "plan run luna6-to-luna7 from the prefix failed"
}
# Finished: its journal says so, and the targets hold the keys.
"$bin" plan run luna6-to-luna7 >"$work/plan2.out" 2>&1 || fail "a second plan run failed: $(cat "$work/plan2.out")"
grep -qi 'already finished' "$work/plan2.out" || fail "the plan did not finish: $(cat "$work/plan2.out")"
for target in luna7-a/app luna7-b/app; do
  n=$("$bin" --json object list "$target" | json_get 'len(d["objects"]) if isinstance(d, dict) else len(d)')
  [ "$n" -gt 0 ] || fail "$target holds no objects after the plan"
done
# The README's script itself, pointed at the installed binary and a new fleet.
HSM_MIGRATE_HOME=$work/demo BIN=$bin sh "$src/tool/demo-fleet.sh" >"$work/demo.out" 2>&1 || {
  cat "$work/demo.out"
  fail "tool/demo-fleet.sh with the installed binary failed"
}

step "a copy of the prefix elsewhere (relocatable)"
cp -a "$prefix" "$work/moved"
"$work/moved/bin/hsm-migrate" --json plugins >"$work/moved.json"
files=$(json_get '" ".join(p["file"] for p in d["loaded"])' <"$work/moved.json")
[ -n "$files" ] || fail "the moved prefix loads no plugin"
for f in $files; do [[ "$f" == "$work/moved/"* ]] || fail "the moved binary loaded $f"; done
unset HSM_MIGRATE_HOME

# ---- 3. man pages ------------------------------------------------------------------
step "man -M $prefix/share/man"
export MANPAGER=cat MANWIDTH=80
man -M "$prefix/share/man" hsm-migrate 2>"$work/man.err" | col -b >"$work/man.txt" || true
grep -q '^NAME' "$work/man.txt" && grep -q 'hsm-migrate' "$work/man.txt" ||
  fail "man hsm-migrate does not render: $(head -c 300 "$work/man.err")"
man -M "$prefix/share/man" 5 hsm-migrate-plan 2>/dev/null | col -b >"$work/man5.txt" || true
grep -q '^NAME' "$work/man5.txt" || fail "man 5 hsm-migrate-plan does not render"
MANPATH=$prefix/share/man man -w hsm-migrate | grep "^$prefix/share/man/man1/hsm-migrate.1.gz$" >/dev/null ||
  fail "MANPATH=$prefix/share/man man hsm-migrate finds another page"

# ---- 4. systemd units -------------------------------------------------------------------
step "systemd-analyze verify"
# A template is verified through an instance; the instance files are links
# in a scratch folder, so the installed template is what is read.
units=$work/units
mkdir -p "$units"
ln -s "$prefix/lib/systemd/system/hsm-migrate-plan@.service" "$units/hsm-migrate-plan@nightly-backup.service"
ln -s "$prefix/lib/systemd/system/hsm-migrate-plan@.timer" "$units/hsm-migrate-plan@nightly-backup.timer"
# --man=no: the Documentation= pages are in the prefix, not in the system's MANPATH.
# Exit status and any message count: verify prints warnings and still exits 0.
if ! SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no \
  "$units/hsm-migrate-plan@nightly-backup.service" "$units/hsm-migrate-plan@nightly-backup.timer" \
  >"$work/verify.out" 2>&1 || [ -s "$work/verify.out" ]; then
  cat "$work/verify.out"
  fail "systemd-analyze verify complained about the units"
fi
# What the timer runs, as systemd would run it: ExecStart with %i = the plan,
# the fleet folder the unit sets, the secrets of the environment file.
step "the service's ExecStart, run as written: a nightly backup"
exec_line=$(sed -n 's/^ExecStart=//p' "$unit")
cmd=${exec_line//%i/nightly-backup}
HSM_MIGRATE_HOME=$work/state env $cmd >"$work/nightly.out" 2>&1 || {
  cat "$work/nightly.out"
  fail "the unit's command ($cmd) failed"
}
ls "$work"/state/backups/prod-app-*.hsmar >/dev/null 2>&1 || fail "the nightly backup wrote no archive"
"$bin" --home "$work/state" verify "$(ls "$work"/state/backups/prod-app-*.hsmar | head -n1)" >/dev/null ||
  fail "the nightly archive does not verify"

# ---- 5. Debian package --------------------------------------------------------------------
step "cpack -G DEB"
(cd "$build" && cpack -G DEB -B "$work/pkg" >"$work/cpack.log" 2>&1) || {
  cat "$work/cpack.log"
  fail "cpack -G DEB failed"
}
deb=$(ls "$work"/pkg/hsm-migrate_*.deb 2>/dev/null | head -n1)
[ -n "$deb" ] || fail "cpack made no hsm-migrate_*.deb: $(ls "$work/pkg")"
dpkg-deb -f "$deb" Maintainer | grep '@' >/dev/null || fail "the package has no maintainer"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 libssl3 libsodium23 libboost-program-options; do
  [[ "$depends" == *"$lib"* ]] || fail "the package does not depend on $lib (Depends: $depends)"
done
dpkg-deb -c "$deb" >"$work/deb.list"
for f in ./usr/bin/hsm-migrate ./usr/share/man/man1/hsm-migrate.1.gz './usr/lib/systemd/system/hsm-migrate-plan@.service' \
  ./usr/share/hsm-migrate/plans/luna6-to-luna7.toml; do
  grep -q " $f$" "$work/deb.list" || fail "the package lacks $f"
done
grep -q '/hsm-migrate/plugins/libhsm-luna7.so$' "$work/deb.list" || fail "the package lacks the plugins"
dpkg-deb --ctrl-tarfile "$deb" | tar -tf - | grep postinst >/dev/null || fail "the package has no postinst"

if [ "${HSM_MIGRATE_TEST_DEB:-0}" = 1 ]; then
  [ "$(id -u)" = 0 ] || fail "HSM_MIGRATE_TEST_DEB=1 needs root (dpkg -i)"
  if dpkg -s hsm-migrate >/dev/null 2>&1; then
    fail "a package hsm-migrate is already installed here; the test will not replace it"
  fi
  step "dpkg -i $(basename "$deb")"
  deb_installed=1
  dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || {
    cat "$work/dpkg.log"
    fail "dpkg -i failed"
  }
  # From /usr, as a user would run it: by name on the PATH, from elsewhere.
  (cd / && PATH=/usr/bin:/bin hsm-migrate --version) | grep '^hsm-migrate ' >/dev/null || fail "hsm-migrate --version from /usr"
  (cd / && PATH=/usr/bin:/bin hsm-migrate --json plugins) >"$work/usr-plugins.json" || fail "hsm-migrate plugins from /usr"
  kinds=$(json_get '" ".join(sorted(p["kind"] for p in d["loaded"]))' <"$work/usr-plugins.json")
  for kind in backup-g5 cloud luna6 luna7; do
    [[ " $kinds " == *" $kind "* ]] || fail "plugin $kind not loaded from /usr (loaded: $kinds)"
  done
  files=$(json_get '" ".join(p["file"] for p in d["loaded"])' <"$work/usr-plugins.json")
  for f in $files; do [[ "$f" == /usr/lib/* ]] || fail "the packaged binary loaded $f"; done
  # A slim image's dpkg may be told to drop every man page (path-exclude):
  # then there is nothing to find, and the test says so.
  if grep -qs '^path-exclude=*/usr/share/man' /etc/dpkg/dpkg.cfg.d/*; then
    echo "   note: dpkg here excludes /usr/share/man (path-exclude); man pages checked from the prefix only"
  else
    man -w hsm-migrate | grep '^/usr/share/man/man1/hsm-migrate.1.gz$' >/dev/null || fail "man hsm-migrate after dpkg -i"
  fi
  HSM_MIGRATE_HOME=$work/usr-fleet hsm-migrate plan check nightly-backup >/dev/null ||
    fail "the packaged binary does not find its built-in plans"
  step "dpkg --purge hsm-migrate"
  dpkg --purge hsm-migrate >"$work/dpkg.log" 2>&1 || {
    cat "$work/dpkg.log"
    fail "dpkg --purge failed"
  }
  deb_installed=0
  [ ! -e /usr/bin/hsm-migrate ] || fail "/usr/bin/hsm-migrate is still there after removal"
  [ ! -e '/usr/lib/systemd/system/hsm-migrate-plan@.service' ] || fail "the unit is still there after removal"
else
  step "package not installed (set HSM_MIGRATE_TEST_DEB=1, as root, to dpkg -i it)"
fi

step "install test passed"
