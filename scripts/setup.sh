#!/usr/bin/env bash
# Installs the build dependencies from Debian/Ubuntu packages (when missing) and builds `llama`
# into build/. Safe to run again: it only installs what is absent and rebuilds what changed.
#   LLAMA_EXTRA_PACKAGES      more packages that must be installed (scripts/test.sh adds its own)
#   LLAMA_OPTIONAL_PACKAGES   packages installed only where the distribution has them
#   LLAMA_COMMAND_PACKAGES    "command=package" pairs: the package is installed only when the command
#                             is missing (NodeSource's nodejs ships npm and conflicts with Debian's npm)
set -euo pipefail
cd "$(dirname "$0")/.."

required=(build-essential cmake ninja-build pkg-config nlohmann-json3-dev libgtest-dev libpcre2-dev libsentencepiece-dev
          libboost-dev libopenmpi-dev openmpi-bin
          ${LLAMA_EXTRA_PACKAGES:-})
optional=(${LLAMA_OPTIONAL_PACKAGES:-})
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
for p in "${required[@]}" "${optional[@]}"; do installed "$p" || missing+=("$p"); done
for pair in ${LLAMA_COMMAND_PACKAGES:-}; do
  command -v "${pair%%=*}" >/dev/null || missing+=("${pair#*=}")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  to_install=()
  for p in "${missing[@]}"; do
    if [[ " ${optional[*]} " == *" $p "* ]] && ! apt-cache show "$p" >/dev/null 2>&1; then continue; fi
    to_install+=("$p")
  done
  if [ ${#to_install[@]} -gt 0 ]; then
    echo "setup: installing ${to_install[*]}" >&2
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${to_install[@]}" >/dev/null
  fi
fi

jobs=${LLAMA_BUILD_JOBS:-$(nproc)}
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build -j "$jobs" >&2
