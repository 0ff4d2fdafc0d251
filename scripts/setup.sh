#!/usr/bin/env bash
# Installs what Ferry's tests and demo need on a fresh Debian machine, and says what it installs.
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium: the dashboard's browser tests and the report's PNG rendering (playwright-core drives it).
debs=(haproxy prometheus pdns-server pdns-backend-sqlite3 sqlite3 wrk pgbouncer chromium)
missing=()
for deb in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$deb" 2>/dev/null | grep -q "install ok installed" || missing+=("$deb")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts these as system services on install; Ferry starts its own on loopback.
  for svc in haproxy prometheus pdns pgbouncer; do $SUDO service "$svc" stop >/dev/null 2>&1 || true; done
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
