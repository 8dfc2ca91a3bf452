# Sourced by the npm-based test suites (tests/clients, tests/browser), from their own folder:
#   source ../npm_pinned.sh; npm_pinned_install LABEL
# Checks node (18.17+) and npm, then installs the packages pinned by package-lock.json with
# `npm ci` (no install scripts) when node_modules is missing or stale: node_modules is current when
# its stamp holds the hash of package.json + package-lock.json. Two build directories may run a
# suite at once: one install at a time (flock).
npm_pinned_install() {
  local label=$1 tool
  for tool in node npm; do
    if ! command -v "$tool" >/dev/null; then
      echo "$label: '$tool' not found; install Node.js 18+ and npm (tools/bootstrap installs Debian's nodejs and npm)" >&2
      exit 1
    fi
  done
  local node_version
  node_version=$(node -p 'process.versions.node')
  if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 18 || (a === 18 && b >= 17) ? 0 : 1)'; then
    echo "$label: Node.js $node_version is too old; these tests need 18.17 or newer" >&2
    exit 1
  fi
  local want stamp=node_modules/.ringgate-lock-sha256
  want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
  if command -v flock >/dev/null; then
    exec 9>.npm-ci.lock
    flock 9
  fi
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    echo "$label: installing the pinned packages (npm ci, node $node_version, npm $(npm --version))"
    npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
    echo "$want" >"$stamp"
  fi
  if command -v flock >/dev/null; then
    flock -u 9
  fi
}
