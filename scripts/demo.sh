#!/usr/bin/env bash
# Builds Mashwara and starts it with its embedded SQLite database and demo data: a doctor, a
# patient and an appointment now; and, the first time, an analyst and 60 days of synthetic
# history for the dashboard (docs/dashboard.md). Prints the patient's link, the doctor's console
# and the dashboard.
# Usage: bash scripts/demo.sh [extra mashwara flags, e.g. --port 9443 --listen 0.0.0.0]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
[[ -f build/build.ninja ]] || meson setup build >/dev/null
ninja -C build >/dev/null
exec ./build/daemon/mashwara --demo --data-dir mashwara-data "$@"
