#!/usr/bin/env bash
# Installs what ember needs on a fresh Debian machine (only the packages that are missing),
# then configures and builds into ./build (or $EMBER_BUILD_DIR). Extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential cmake ninja-build libgtest-dev libgmock-dev googletest libbenchmark-dev
      libfmt-dev nlohmann-json3-dev libcli11-dev libsqlite3-dev libstb-dev gnuplot-nox graphviz
      libopenblas-dev python3 zlib1g-dev libjpeg62-turbo-dev dataset-fashion-mnist libgloo-dev libpq-dev postgresql
      bible-kjv python3-numpy clang-14 libclang-rt-14-dev lld librsvg2-bin
      python3-sklearn)  # python3-sklearn: its CSV files (wine, diabetes) are the `ember tune csv` tests' data
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm (OpenMoji's package) may come with a Node.js that is not Debian's (NodeSource's nodejs
# bundles npm and conflicts with Debian's npm package): only install Debian's when none is there.
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${missing[@]}"
fi

# nvcc is not on PATH by default; the CUDA folder is compiled whenever it exists.
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
  export CUDACXX=/usr/local/cuda/bin/nvcc
fi

build="${EMBER_BUILD_DIR:-build}"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$build" -j "$(nproc)"

# OpenMoji line/colour pairs for zoo/colorize (npm + rsvg-convert; cached outside the tree, so a
# second run only repacks). No network is not an error here: `ember data openmoji` retries later.
if [ -z "${EMBER_SKIP_DATA:-}" ] && [ -x "$build/bin/ember" ]; then
  "$build/bin/ember" data openmoji || echo "setup: OpenMoji not built (run: ember data openmoji)"
fi
