#!/usr/bin/env bash
# Runs every test tier (unit, integration on PGlite and on PostgreSQL, storage, HA, end-to-end) in one go:
# `npm test`. On a fresh Debian 12 machine, as root, it installs the Debian packages the tests
# drive; as anyone else it says which ones are missing. Ends with one line `N passed, M failed,
# K skipped` and exits non-zero on any failure.
#
# Environment:
#   WHARF_TEST_TIMEOUT  bound on the whole vitest run, as for timeout(1) (default 75m)
#   WHARF_TEST_DEADLINE instead: a Unix time by which vitest must be done (CI's budget)
#   VITEST_ARGS         extra arguments for `vitest run` (e.g. "--project unit")
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD

say() { printf '\n==> %s\n' "$*"; }
die() {
  printf 'test-all: %s\n' "$*" >&2
  exit 1
}

# --- Debian packages the tests drive --------------------------------------------------------
# Each entry: package name, then the file or command whose absence means it is missing.
# uidmap, fuse-overlayfs and slirp4netns are not listed: rootful podman/buildah with
# --storage-driver vfs never run them to pull, build from scratch, commit or push (checked with
# strace), and buildah depends on uidmap anyway.
required=(
  'postgresql:/usr/lib/postgresql/*/bin/initdb'
  'skopeo:skopeo'
  'podman:podman'
  'buildah:buildah'
  'docker-registry:docker-registry'
  'umoci:umoci'
  'redis-server:redis-server'
  'redis-sentinel:redis-sentinel'
  'nginx:nginx'
  'haproxy:haproxy'
  'keepalived:keepalived'
)
missing=()
for entry in "${required[@]}"; do
  pkg=${entry%%:*}
  probe=${entry#*:}
  if [[ $probe == /* ]]; then
    # compgen -G: true when the glob matches an existing path.
    compgen -G "$probe" >/dev/null || missing+=("$pkg")
  else
    command -v "$probe" >/dev/null || missing+=("$pkg")
  fi
done
if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    die "missing Debian packages: ${missing[*]}
  install them as root: apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
  fi
  say "Installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Services (nginx, redis, haproxy...) must not start on install: the tests run their own, on
  # loopback ports of their choosing. policy-rc.d answering 101 tells invoke-rc.d "not allowed".
  policy=/usr/sbin/policy-rc.d
  own_policy=false
  if [[ ! -e $policy ]]; then
    own_policy=true
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  # The lock timeout waits out another apt run instead of failing at once.
  timeout 10m apt-get -o DPkg::Lock::Timeout=300 update -q
  timeout 20m apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${missing[@]}"
  if $own_policy; then
    rm -f "$policy"
    trap - EXIT
  fi
fi

# --- Node 24 from node_modules ----------------------------------------------------------------
# The machine's node may be older; the project's own (npm package `node`) comes first on PATH.
if [[ ! -x node_modules/.bin/node || ! -x node_modules/.bin/vitest ]]; then
  say 'Installing npm dependencies (npm ci)'
  npm ci --no-audit --no-fund
fi
export PATH="$repo/node_modules/.bin:$PATH"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[[ $node_major == 24 ]] || die "node on PATH is $(node --version), expected v24 from node_modules: run npm ci (the npm package \`node\` needs its install script allowed in package.json allowScripts)"

# --- Build ------------------------------------------------------------------------------------
say 'Build (npm run build)'
npm run build

# --- Tests ------------------------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/wharf-test-all-XXXXXX")
trap 'rm -rf "$work"' EXIT
report=$work/vitest.json

limit=${WHARF_TEST_TIMEOUT:-75m}
if [[ -n ${WHARF_TEST_DEADLINE:-} ]]; then
  left=$((WHARF_TEST_DEADLINE - $(date +%s)))
  ((left > 60)) || die "no time left before WHARF_TEST_DEADLINE for the tests"
  limit=${left}s
fi

# timeout(1) kills the whole process group (vitest, its workers, their servers). At a terminal,
# --foreground keeps Ctrl-C reaching vitest, at the cost of signalling vitest alone on timeout.
timeout_args=(--kill-after=30s)
[[ -t 0 ]] && timeout_args+=(--foreground)

# Every project but `inprocess`, whose files integration-pglite runs already (it is the inner
# loop's subset: npm run test:fast). VITEST_ARGS naming projects replaces this list.
projects=(--project unit --project integration-pglite --project integration-postgres --project storage --project ha --project e2e)
[[ ${VITEST_ARGS:-} == *--project* ]] && projects=()

say "Tests (vitest run: unit, integration-pglite, integration-postgres, storage, ha, e2e; bound $limit)"
set +e
# shellcheck disable=SC2086 # VITEST_ARGS is a list of words on purpose
timeout "${timeout_args[@]}" "$limit" \
  vitest run "${projects[@]}" --reporter=default --reporter=json --outputFile.json="$report" ${VITEST_ARGS:-}
status=$?
set -e

if [[ $status -eq 124 || $status -eq 137 ]]; then
  echo "test-all: vitest was stopped after $limit (exit $status)" >&2
fi
if [[ ! -s $report ]]; then
  echo "test-all: vitest wrote no JSON report (exit $status); no summary" >&2
  exit $((status == 0 ? 1 : status))
fi

# One plain closing line from vitest's JSON report. A test file that failed before any test ran
# (import error, failing beforeAll) counts as one failure, so it cannot read as 0 failed.
summary=$(
  node --input-type=module -e '
    import { readFileSync } from "node:fs";
    const r = JSON.parse(readFileSync(process.argv[1], "utf8"));
    const fileErrors = r.testResults.filter(
      (f) => f.status === "failed" && !f.assertionResults.some((a) => a.status === "failed"),
    ).length;
    const failed = r.numFailedTests + fileErrors;
    const skipped = r.numPendingTests + r.numTodoTests;
    console.log(`${r.numPassedTests} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
  ' "$report"
)
if [[ $status -ne 0 && $summary == *' 0 failed'* ]]; then
  echo "test-all: vitest exited $status with no failed test: see its errors above" >&2
fi
echo
echo "$summary"
exit "$status"
