#!/usr/bin/env bash
# Install test: what a user meets on `npm install ringnet`.
#
#   1. prebuild + pack a clean copy of the package (the working tree is not touched)
#      and check the tarball's file list;
#   A. install it into an empty project with no compiler or make on PATH and a
#      clean npm cache: it must load the prebuild, echo through serve() from CJS
#      and ESM, and type-check under node16 and bundler resolution;
#   B. the tarball without prebuilds/, compilers present: it builds from source
#      and echoes;
#   C. without prebuilds/ and without compilers: install fails and says what to
#      install; with --ignore-scripts, require() fails with ERR_RINGNET_NO_BINARY.
#
# Everything happens under one mktemp dir in /tmp that is removed on exit.
# Prints PASS/FAIL lines; exits 1 if anything failed. Needs the npm registry
# (for node-addon-api and node-gyp-build) and the repo's node_modules.
# Keep the dir for debugging: RINGNET_INSTALL_KEEP=1 test/install/run.sh
set -uo pipefail

# The whole run is bounded: a watchdog TERMs it (and every child) after 300 s;
# the EXIT trap still removes the temp dir (RINGNET_INSTALL_TIMEOUT=seconds to change).
if [ -z "${RINGNET_INSTALL_INNER:-}" ]; then
  RINGNET_INSTALL_INNER=1 timeout -k 10 "${RINGNET_INSTALL_TIMEOUT:-300}" bash "${BASH_SOURCE[0]}" "$@"
  rc=$?
  [ $rc -eq 124 ] && echo "FAIL install test: timed out after ${RINGNET_INSTALL_TIMEOUT:-300} s"
  exit $rc
fi

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$REPO/test/install"
T=$(mktemp -d /tmp/ringnet-install.XXXXXX)
cleanup() { [ -n "${RINGNET_INSTALL_KEEP:-}" ] && echo "kept $T" || rm -rf "$T"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

failures=0
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
# Show the tail of a log after a failure.
show() { sed -e 's/^/    | /' "$1" | tail -n "${2:-40}"; }
ms() { date +%s%3N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }
# Quiet, bounded npm with a given cache dir: npmq CACHE ARGS...
npmq() {
  local cache=$1; shift
  npm_config_cache="$cache" npm_config_update_notifier=false npm_config_fund=false \
    npm_config_audit=false npm_config_loglevel=warn timeout 150 npm "$@"
}

PLATFORM=$(node -p 'process.platform + "-" + process.arch')
TSC="$REPO/node_modules/.bin/tsc"
[ -x "$TSC" ] || { echo "FAIL install: $TSC missing (run npm ci first)"; exit 1; }

# --- 1. stage, prebuild, pack ---------------------------------------------------
# A copy of the tracked and unignored files, so the shared build/, dist/ and
# prebuilds/ are left alone and the tarball is built from the sources alone.
S="$T/src"
mkdir -p "$S"
if ! (cd "$REPO" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$S" 2>"$T/stage.log"); then
  fail "stage: copying the sources"; show "$T/stage.log"; exit 1
fi
ln -s "$REPO/node_modules" "$S/node_modules"

t0=$(ms)
# Every prebuild the package ships (issue 14): `npm run prebuild:all` (Zig 0.11:
# linux x64/arm64 glibc 2.28 and musl, darwin x64/arm64) in the staged copy, or,
# with RINGNET_INSTALL_PREBUILDS=DIR, the files a CI step already built there
# (copied, so the tarball still comes from this stage). RINGNET_INSTALL_PREBUILDS=host:
# the old single host build (`npm run prebuild`, node-gyp + prebuildify).
TAGS="linux-x64/ringnet.napi.glibc.node linux-arm64/ringnet.napi.glibc.node linux-x64/ringnet.napi.musl.node linux-arm64/ringnet.napi.musl.node darwin-x64/ringnet.napi.node darwin-arm64/ringnet.napi.node"
mkdir -p "$T/tmp"
case "${RINGNET_INSTALL_PREBUILDS:-}" in
  host) TAGS=""; pcmd=(run prebuild -- --quiet) ;;
  "") pcmd=(run prebuild:all) ;;
  *) pcmd=() ;;
esac
if [ ${#pcmd[@]} -eq 0 ]; then
  cp -r "$RINGNET_INSTALL_PREBUILDS" "$S/prebuilds" 2>"$T/prebuild.log"
  # win32-x64 (issue 13: build:win with mingw-w64) ships when the CI step built it.
  [ -f "$S/prebuilds/win32-x64/ringnet.napi.node" ] && TAGS="$TAGS win32-x64/ringnet.napi.node"
else
  # TMPDIR: prebuildify keeps node-gyp's header dir under $TMPDIR/prebuildify.
  (cd "$S" && TMPDIR="$T/tmp" npmq "$T/cache-pack" "${pcmd[@]}") >"$T/prebuild.log" 2>&1
fi
if [ $? -eq 0 ]; then
  t1=$(ms)
  PRE=$(ls "$S"/prebuilds/"$PLATFORM"/*.napi.glibc.node "$S"/prebuilds/"$PLATFORM"/*.napi*.node 2>/dev/null | head -n1)
  if [ -n "$PRE" ] && [[ "$(basename "$PRE")" == *.napi.* ]]; then
    pass "prebuild: prebuilds/$PLATFORM/$(basename "$PRE") ($(($(stat -c %s "$PRE") / 1024)) KiB, $(secs "$t0" "$t1") s${RINGNET_INSTALL_PREBUILDS:+, from ${RINGNET_INSTALL_PREBUILDS}})"
  else
    fail "prebuild: no prebuilds/$PLATFORM/*.napi*.node"; show "$T/prebuild.log"
  fi
  for tag in $TAGS; do
    [ -f "$S/prebuilds/$tag" ] || fail "prebuild: prebuilds/$tag missing"
  done
  if command -v readelf >/dev/null && [ -n "$PRE" ]; then
    if readelf -S "$PRE" | grep -q '\.symtab'; then fail "prebuild: $PRE is not stripped"; else pass "prebuild: stripped"; fi
  fi
else
  fail "prebuild: npm ${pcmd[*]:-(copy $RINGNET_INSTALL_PREBUILDS)} failed"; show "$T/prebuild.log"; exit 1
fi

if (cd "$S" && npmq "$T/cache-pack" pack --json --pack-destination "$T") >"$T/pack.json" 2>"$T/pack.log"; then
  TGZ="$T/$(node -p 'require(process.argv[1])[0].filename' "$T/pack.json")"
else
  fail "pack: npm pack failed"; show "$T/pack.log"; exit 1
fi
# Everything in the tarball must match one of these; each `required` must be there.
if TAGS="$TAGS" node - "$T/pack.json" "$PLATFORM" >"$T/files.log" 2>&1 <<'EOF'
const [file, platform] = process.argv.slice(2);
const info = require(file)[0];
const paths = info.files.map((f) => f.path);
const allowed = [
  /^package\.json$/, /^README\.md$/, /^LICENSE(\.md|\.txt)?$/,
  /^dist\/.+\.(js|d\.ts)$/,
  /^prebuilds\/[a-z0-9]+-[a-z0-9+]+\/[^/]+\.node$/,
  /^native\/.+\.(cc|c|h)$/, /^binding\.gyp$/,
  /^scripts\/(install-help|liburing)\.js$/,
  /^bench\/[^/]+\.(js|c|h|md|lua)$/, /^bench\/pool-tasks\/[^/]+\.js$/,
];
const required = ['package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/cli.js', 'binding.gyp',
  'native/binding/binding.cc', 'scripts/install-help.js', 'bench/echo.js', 'bench/loadgen.c', 'bench/cpu_clock.h', 'LICENSE'];
const stray = paths.filter((p) => !allowed.some((re) => re.test(p)));
const missing = required.filter((p) => !paths.includes(p));
if (!paths.some((p) => p.startsWith(`prebuilds/${platform}/`) && p.includes('.napi.'))) missing.push(`prebuilds/${platform}/*.napi*.node`);
for (const t of (process.env.TAGS || '').split(' ').filter(Boolean)) if (!paths.includes(`prebuilds/${t}`)) missing.push(`prebuilds/${t}`);
const pre = info.files.filter((f) => f.path.startsWith('prebuilds/'));
if (pre.length) console.log(`${pre.length} prebuilds (${(pre.reduce((a, f) => a + f.size, 0) / 1024).toFixed(0)} KiB unpacked): ${pre.map((f) => `${f.path.slice(10)} ${(f.size / 1024).toFixed(0)} KiB`).join(', ')}`);
console.log(`${info.filename}: ${(info.size / 1024).toFixed(0)} KiB packed, ${(info.unpackedSize / 1024).toFixed(0)} KiB unpacked, ${paths.length} files`);
if (stray.length) console.log(`unexpected: ${stray.join(' ')}`);
if (missing.length) console.log(`missing: ${missing.join(' ')}`);
if (process.env.RINGNET_INSTALL_LIST) for (const f of info.files) console.log(`  ${String(f.size).padStart(8)}  ${f.path}`);
process.exit(stray.length || missing.length ? 1 : 0);
EOF
then pass "pack: $(cat "$T/files.log")"
else fail "pack: file list"; show "$T/files.log"
fi

# The same tarball without prebuilds/, as a platform without a prebuild gets it.
mkdir -p "$T/nopre"
tar -xzf "$TGZ" -C "$T/nopre" && rm -rf "$T/nopre/package/prebuilds"
NOPRE="$T/ringnet-noprebuild.tgz"
tar -czf "$NOPRE" -C "$T/nopre" package

# --- a PATH with node and npm but no compiler and no make -------------------------
NOCC="$T/nocc-bin"
mkdir -p "$NOCC"
IFS=: read -r -a dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  [ -d "$d" ] || continue
  for f in "$d"/*; do
    b=$(basename "$f")
    [ -x "$f" ] && [ ! -d "$f" ] && [ ! -e "$NOCC/$b" ] || continue
    [[ "$b" =~ ^(.*-)?(cc|c\+\+|c89|c99|cpp|gcc|g\+\+|clang|clang\+\+|clang-cpp|tcc|icc|icpx|make|gmake|cmake|ninja|ld|as)(-[0-9.]+)?$ ]] && continue
    ln -s "$f" "$NOCC/$b"
  done
done
leaked=$(PATH="$NOCC" bash -c 'for c in cc c++ gcc g++ clang clang++ make gmake; do command -v $c; done')
if [ -n "$leaked" ]; then fail "no-compiler PATH still has: $leaked"; exit 1; fi
PATH="$NOCC" command -v node >/dev/null && PATH="$NOCC" command -v npm >/dev/null \
  || { fail "no-compiler PATH lacks node or npm"; exit 1; }

# new_project DIR: an empty app with the check scripts in it.
new_project() {
  mkdir -p "$1"
  printf '{ "name": "app", "version": "1.0.0", "private": true }\n' >"$1/package.json"
  cp "$HERE/echo.cjs" "$HERE/echo.mjs" "$1/"
}
# echo_checks CASE DIR PATH: the CJS and the ESM round-trip.
echo_checks() {
  local kase=$1 dir=$2 path=$3 kind out
  for kind in cjs mjs; do
    if out=$(cd "$dir" && PATH="$path" timeout 30 node "echo.$kind" 2>&1); then
      pass "$kase: $out"
    else
      fail "$kase: echo.$kind"; echo "$out" | sed -e 's/^/    | /' | tail -n 30
    fi
  done
}
# Which file the package's loader picks, relative to the package.
loaded() {
  (cd "$1" && node -p "const p = require('path'), d = p.dirname(require.resolve('ringnet/package.json'));
    p.relative(d, require('node-gyp-build').path(d))" 2>&1)
}

# --- A. prebuild, no compiler, clean cache -------------------------------------
A="$T/a"
new_project "$A"
t0=$(ms)
if (cd "$A" && PATH="$NOCC" npmq "$T/cache-a" install --foreground-scripts "$TGZ") >"$T/a.log" 2>&1; then
  t1=$(ms)
  pass "A install without compilers: $(secs "$t0" "$t1") s (clean cache, deps from the registry)"
  which=$(loaded "$A")
  if [[ "$which" == prebuilds/* ]] && [ ! -e "$A/node_modules/ringnet/build" ]; then
    pass "A loads the prebuild: $which"
  else
    fail "A should load the prebuild, loads: $which"
  fi
  echo_checks A "$A" "$NOCC"
  # node-gyp-build's choice for every platform the tarball serves (it reads
  # npm_config_platform, npm_config_arch and LIBC): each must pick its own file.
  for tag in $TAGS; do
    plat=${tag%%/*}; file=${tag#*/}; libc=glibc
    [[ "$file" == *.musl.* ]] && libc=musl
    got=$(cd "$A" && npm_config_platform=${plat%-*} npm_config_arch=${plat#*-} LIBC=$libc node -p "const p = require('path'), d = p.dirname(require.resolve('ringnet/package.json'));
      p.relative(d, require('node-gyp-build').path(d))" 2>&1)
    if [ "$got" = "prebuilds/$tag" ]; then pass "A node-gyp-build on ${plat} ${libc}: $got"; else fail "A node-gyp-build on ${plat} ${libc} picks: $got (expected prebuilds/$tag)"; fi
  done
  if out=$(cd "$A" && PATH="$NOCC" timeout 30 node_modules/.bin/ringnet --help 2>&1) && [[ "$out" == *usage:* ]]; then
    pass "A bin: node_modules/.bin/ringnet --help"
  else
    fail "A bin: node_modules/.bin/ringnet"; echo "$out" | sed -e 's/^/    | /' | tail -n 10
  fi
  # Types: the app's own .ts (CJS under node16) and .mts (ESM), then bundler.
  cp "$HERE/types.ts" "$A/types.ts"
  cp "$HERE/types.ts" "$A/types.mts"
  tsflags=(--noEmit --strict --target es2022 --types node --typeRoots "$REPO/node_modules/@types")
  # No --skipLibCheck: ringnet's own .d.ts files are checked too.
  for mode in "node16:types.ts types.mts" "bundler:types.ts"; do
    res=${mode%%:*} files=${mode#*:}
    if [ "$res" = node16 ]; then m=(--module node16 --moduleResolution node16); else m=(--module esnext --moduleResolution bundler); fi
    # shellcheck disable=SC2086 # $files is a list
    if out=$(cd "$A" && timeout 60 "$TSC" "${tsflags[@]}" "${m[@]}" $files 2>&1); then
      pass "A types: tsc --module ${m[1]} --moduleResolution $res $files"
    else
      fail "A types: tsc --module ${m[1]} --moduleResolution $res $files"; echo "$out" | sed -e 's/^/    | /' | head -n 30
    fi
  done
else
  fail "A install without compilers"; show "$T/a.log"
fi

# --- B. no prebuild, compilers present -> source build ---------------------------
B="$T/b"
new_project "$B"
t0=$(ms)
if (cd "$B" && npmq "$T/cache-b" install --foreground-scripts "$NOPRE") >"$T/b.log" 2>&1; then
  t1=$(ms)
  pass "B install from source: $(secs "$t0" "$t1") s (clean cache)"
  which=$(loaded "$B")
  if [ "$which" = build/Release/ringnet.node ]; then pass "B loads the source build: $which"; else fail "B should load build/Release, loads: $which"; fi
  echo_checks B "$B" "$PATH"
else
  fail "B install from source"; show "$T/b.log" 60
fi

# --- C. no prebuild, no compiler -> a failure that says what to install ----------
C="$T/c"
new_project "$C"
if (cd "$C" && PATH="$NOCC" npmq "$T/cache-c" install --foreground-scripts "$NOPRE") >"$T/c.log" 2>&1; then
  fail "C install without prebuild or compiler succeeded"
elif grep -q "install python3, make and a C++17 compiler" "$T/c.log"; then
  pass "C install fails and says: $(grep -m1 "no prebuilt binary for" "$T/c.log" | sed 's/^ *//')"
else
  fail "C install failed without saying what to install"; show "$T/c.log"
fi
D="$T/d"
new_project "$D"
if (cd "$D" && PATH="$NOCC" npmq "$T/cache-c" install --ignore-scripts "$NOPRE") >"$T/d.log" 2>&1; then
  out=$(cd "$D" && PATH="$NOCC" timeout 30 node -e "
    try { require('ringnet'); console.log('loaded?!'); process.exit(1) }
    catch (e) { console.log(e.code + ': ' + e.message.split('\n').pop()); process.exit(e.code === 'ERR_RINGNET_NO_BINARY' ? 0 : 1) }" 2>&1)
  if [ $? -eq 0 ]; then pass "C require() without a binary: $out"; else fail "C require() without a binary: $out"; fi
else
  fail "C install --ignore-scripts"; show "$T/d.log"
fi

if [ "$failures" -eq 0 ]; then
  echo "PASS install test ($SECONDS s)"
else
  echo "FAIL install test: $failures failure(s) ($SECONDS s)"
  exit 1
fi
