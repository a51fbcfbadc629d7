#!/usr/bin/env bash
# Install the system packages regiongis needs, when missing: PostgreSQL + PostGIS always;
# with --test also GDAL's command-line tools (the OAPIF client tests use) and Chromium.
# On Debian as root it installs them; anywhere else it prints the one line to run.
set -euo pipefail

packages=()
ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || packages+=(postgresql-15-postgis-3)
python3 -c 'import ensurepip' 2>/dev/null || packages+=(python3-venv)
if [ "${1:-}" = "--test" ]; then
  command -v ogrinfo >/dev/null || packages+=(gdal-bin)
  command -v chromium >/dev/null || packages+=(chromium)
fi
[ ${#packages[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing system packages: ${packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
else
  echo "regiongis needs: ${packages[*]}" >&2
  echo "On Debian/Ubuntu run: sudo apt-get install -y ${packages[*]}" >&2
  echo "Or run the whole stack with: docker compose up" >&2
  exit 1
fi
