#!/usr/bin/env bash
# Debian packages the tests drive as outside peers: the real adb client, apksigner/aapt to build and check
# signed test APKs, Chromium for the browser tests, and DejaVu Sans (the Unicode font of chat transcripts' PDFs).
# Installs what is missing when run as root.
set -euo pipefail
need=()
command -v adb >/dev/null || need+=(adb)
command -v apksigner >/dev/null || need+=(apksigner)
command -v aapt >/dev/null || need+=(aapt)
command -v zipalign >/dev/null || need+=(zipalign)
command -v chromium >/dev/null || need+=(chromium)
command -v npm >/dev/null || need+=(npm)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ] || need+=(fonts-dejavu-core)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "Missing Debian packages: ${need[*]}. Install them with: sudo apt-get install ${need[*]}" >&2
  exit 1
fi
echo "Installing Debian packages: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
