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

# shellcheck source=tests/npm_pinned.sh
source ../npm_pinned.sh
npm_pinned_install browser

exec node --test --test-reporter=spec ./*.test.mjs
