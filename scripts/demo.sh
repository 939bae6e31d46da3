#!/usr/bin/env bash
# Set-up + build + the main demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
./build/examples/toy_regression
