#!/usr/bin/env sh
# Installs node-soap, exactly as package-lock.json pins it, into tests/e2e/node/node_modules for the suite's
# node-soap tests (tests/e2e/test_foreign_clients.py). Needs node and npm; safe to run again.
set -eu
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
