#!/usr/bin/env bash
# Runs the real-client tests (the official `openai` package and the Vercel AI SDK against
# build/ringgate in front of build/fake-gemini). meson calls it (suite 'clients'); by hand:
#   tests/clients/run.sh            (uses build/ringgate and build/fake-gemini)
# RINGGATE_BINARY and FAKE_GEMINI_BINARY override the binaries. Installs the pinned packages
# (package-lock.json) from the npm registry with `npm ci` when node_modules is missing or stale.
# The exit status is the test result.
set -euo pipefail
cd "$(dirname "$0")"

# shellcheck source=tests/npm_pinned.sh
source ../npm_pinned.sh
npm_pinned_install clients

exec node --test --test-reporter=spec ./*.test.mjs
