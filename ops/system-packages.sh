#!/usr/bin/env bash
# Installs the Debian packages the tests need, only when missing (idempotent, quiet when all is present):
#   prometheus               promtool (check config/rules, rule unit tests) and the server for the scrape test
#   prometheus-alertmanager  a real Alertmanager peer for the benchmark
#   chromium                 a headless browser for the situation-board test (/usr/bin/chromium)
#   fonts-liberation         chromium's recommended fonts (installed without recommends), for screenshots
#   nginx-light              `nginx -t` on the reverse-proxy example (ops/reverse-proxy/nginx.conf)
# Runs as root (CI, a fresh Debian 12 machine) or through sudo when available. Safe to run repeatedly.
set -euo pipefail

# package -> a file it installs that the tests use
declare -A WANT=(
    [prometheus]=/usr/bin/promtool
    [prometheus-alertmanager]=/usr/bin/prometheus-alertmanager
    [chromium]=/usr/bin/chromium
    [fonts-liberation]=/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf
    [nginx-light]=/usr/sbin/nginx
)

missing=()
for pkg in "${!WANT[@]}"; do
    if [[ ! -e ${WANT[$pkg]} ]] || ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
if ((${#missing[@]} == 0)); then
    exit 0
fi

if ((EUID == 0)); then
    as_root=()
elif command -v sudo >/dev/null; then
    as_root=(sudo -n env DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes)
else
    echo "system-packages: need root to install: ${missing[*]}" >&2
    exit 1
fi

echo "system-packages: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes
"${as_root[@]}" apt-get update -qq >/dev/null
# The packages' services are not wanted running: tests start their own servers on free ports.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee "$policy" >/dev/null
    "${as_root[@]}" chmod +x "$policy"
    created_policy=1
fi
trap '((created_policy)) && "${as_root[@]}" rm -f "$policy"' EXIT
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for pkg in "${missing[@]}"; do
    [[ -e ${WANT[$pkg]} ]] || { echo "system-packages: $pkg installed but ${WANT[$pkg]} is missing" >&2; exit 1; }
done
