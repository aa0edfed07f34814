#!/usr/bin/env bash
# Installs the real tools the tests use, from Debian's packages: promtool (package prometheus),
# Alertmanager (package prometheus-alertmanager), and headless Chromium with its WebDriver
# (packages chromium, chromium-driver) for the console's browser test (tests/console).
# The Debian packages start system services on install; Brink does not use those instances.
set -euo pipefail
need=()
command -v promtool >/dev/null || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)
[[ -x /usr/bin/chromium ]] || need+=(chromium)
[[ -x /usr/bin/chromedriver ]] || need+=(chromium-driver)
[[ ${#need[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -ne 0 ]]; then
  sudo=sudo
else
  sudo=
fi
echo "installing ${need[*]} from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# policy-rc.d 101 keeps the packages' own daemons from starting (they would take ports 9090/9093).
printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
$sudo chmod +x /usr/sbin/policy-rc.d
trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
