#!/usr/bin/env bash
# Runs the real-client tests (the official `openai` package and the Vercel AI SDK against
# build/ringgate in front of build/fake-gemini). meson calls it (suite 'clients'); by hand:
#   tests/clients/run.sh            (uses build/ringgate and build/fake-gemini)
# RINGGATE_BINARY and FAKE_GEMINI_BINARY override the binaries. Installs the pinned packages
# (package-lock.json) from the npm registry with `npm ci` when node_modules is missing or stale.
# The exit status is the test result.
set -euo pipefail
cd "$(dirname "$0")"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "clients: '$tool' not found; install Node.js 18+ and npm (tools/bootstrap installs Debian's nodejs and npm)" >&2
    exit 1
  fi
done
node_version=$(node -p 'process.versions.node')
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 18 || (a === 18 && b >= 17) ? 0 : 1)'; then
  echo "clients: Node.js $node_version is too old; these tests need 18.17 or newer" >&2
  exit 1
fi

# node_modules is current when its stamp holds the hash of package.json + package-lock.json.
want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
stamp=node_modules/.ringgate-lock-sha256
install_if_stale() {
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return
  fi
  echo "clients: installing the pinned packages (npm ci, node $node_version, npm $(npm --version))"
  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
  echo "$want" >"$stamp"
}
if command -v flock >/dev/null; then
  # Two build directories may run this suite at once: one install at a time.
  exec 9>.npm-ci.lock
  flock 9
  install_if_stale
  flock -u 9
else
  install_if_stale
fi

exec node --test --test-reporter=spec ./*.test.mjs
