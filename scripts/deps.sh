#!/usr/bin/env bash
# deps.sh: installs the Debian packages cnnlab needs to build, test and fetch
# data, when any is missing. Runs apt-get as root (or through sudo).
set -eu
need=()
for p in gcc make libc6-dev libdnnl-dev liblapacke-dev zlib1g-dev libpng-dev libjpeg62-turbo-dev \
         libstb-dev perl curl ca-certificates tar gnuplot-nox; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${need[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
