#!/usr/bin/env bash
# Runs the dashboard in a real browser: Debian's headless Chromium driven by playwright-core, against
# build/ringgate in front of build/fake-gemini. meson calls it (suite 'browser'); by hand:
#   tests/browser/run.sh
# RINGGATE_BINARY, FAKE_GEMINI_BINARY, CHROMIUM (the browser binary) and SCREENSHOT_DIR (default
# build/) override the defaults. Installs the pinned playwright-core (package-lock.json) from the
# npm registry with `npm ci` when node_modules is missing or stale; playwright never downloads a
# browser (--ignore-scripts, and it is pointed at Debian's). The exit status is the test result.
set -euo pipefail
cd "$(dirname "$0")"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "browser: '$tool' not found; run tools/bootstrap (installs Debian's nodejs and npm)" >&2
    exit 1
  fi
done
if [[ -z "${CHROMIUM:-}" ]]; then
  # Debian's /usr/bin/chromium is a wrapper script; the real binary starts faster and takes the
  # same flags.
  for candidate in /usr/lib/chromium/chromium "$(command -v chromium || true)"; do
    if [[ -n "$candidate" && -x "$candidate" ]]; then
      CHROMIUM=$candidate
      break
    fi
  done
fi
if [[ -z "${CHROMIUM:-}" ]]; then
  echo "browser: no Chromium found; run tools/bootstrap (installs Debian's chromium) or set CHROMIUM" >&2
  exit 1
fi
export CHROMIUM

want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
stamp=node_modules/.ringgate-lock-sha256
install_if_stale() {
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return
  fi
  echo "browser: installing the pinned packages (npm ci)"
  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
  echo "$want" >"$stamp"
}
if command -v flock >/dev/null; then
  exec 9>.npm-ci.lock
  flock 9
  install_if_stale
  flock -u 9
else
  install_if_stale
fi

exec node --test --test-reporter=spec ./*.test.mjs
