#!/usr/bin/env bash
# Fetches OpenMoji 17.0.0 from the npm registry (checked against a pinned sha256) and rasterises
# every colour emoji and its black line layer at SIZE x SIZE on white into
#   DIR/raw<SIZE>/color/<hexcode>.png and DIR/raw<SIZE>/black/<hexcode>.png
# `ember data openmoji` runs this, then dedupes and packs the rasters as IDX (zoo/colorize/data.cpp).
# OpenMoji is CC BY-SA 4.0: the rasters and everything built from them stay outside the source tree.
#
# usage: build_openmoji.sh DIR SIZE [JOBS]
set -euo pipefail

DIR=${1:?usage: build_openmoji.sh DIR SIZE [JOBS]}
SIZE=${2:?usage: build_openmoji.sh DIR SIZE [JOBS]}
JOBS=${3:-$(nproc)}
VERSION=17.0.0
SHA256=55ee7d13485dec86e9f38c1f3a645a13382d33ff97c0cd845ee824b0aef45e68

for tool in npm:npm rsvg-convert:librsvg2-bin sha256sum:coreutils tar:tar xargs:findutils; do
  if ! command -v "${tool%%:*}" >/dev/null 2>&1; then
    echo "build_openmoji: ${tool%%:*} not found; install it with: sudo apt-get install ${tool##*:}" >&2
    exit 2
  fi
done
case "$SIZE" in ''|*[!0-9]*) echo "build_openmoji: SIZE must be a number of pixels, got '$SIZE'" >&2; exit 2;; esac

mkdir -p "$DIR"
cd "$DIR"
TGZ=openmoji-$VERSION.tgz
if [ ! -f "$TGZ" ] || ! echo "$SHA256  $TGZ" | sha256sum -c --status; then
  echo "build_openmoji: fetching openmoji@$VERSION from npm"
  rm -f "$TGZ"
  npm pack "openmoji@$VERSION" --silent >/dev/null
fi
if ! echo "$SHA256  $TGZ" | sha256sum -c --status; then
  echo "build_openmoji: $DIR/$TGZ does not match sha256 $SHA256" >&2
  exit 1
fi
if [ ! -f svg/.done ]; then
  rm -rf svg package
  tar xzf "$TGZ" package/color/svg package/black/svg package/LICENSE.txt 2>/dev/null ||
    tar xzf "$TGZ" package/color/svg package/black/svg
  mkdir -p svg
  mv package/color/svg svg/color
  mv package/black/svg svg/black
  [ -f package/LICENSE.txt ] && mv package/LICENSE.txt svg/LICENSE.txt
  rm -rf package
  touch svg/.done
fi

RAW=raw$SIZE
if [ ! -f "$RAW/.done" ]; then
  mkdir -p "$RAW/color" "$RAW/black"
  echo "build_openmoji: rasterising $(ls svg/color | wc -l) emoji x 2 layers at ${SIZE}px with $JOBS jobs"
  for layer in color black; do
    (cd svg/$layer && ls) | sed -n 's/\.svg$//p' |
      xargs -P "$JOBS" -I{} sh -c \
        "[ -s '$RAW/$layer/{}.png' ] || { rsvg-convert -w $SIZE -h $SIZE -b white 'svg/$layer/{}.svg' -o '$RAW/$layer/{}.png.tmp' && mv '$RAW/$layer/{}.png.tmp' '$RAW/$layer/{}.png'; }"
  done
  touch "$RAW/.done"
fi
echo "build_openmoji: rasters in $DIR/$RAW"
