#!/usr/bin/env bash
# Set-up + build + the main demo: the W2 CNN trained on Fashion-MNIST for 5 epochs (progress line,
# per-epoch test accuracy, checkpoint, curves.png and predictions.png in runs/fmnist-cnn), then
# the checkpoint evaluated again from disk.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
./build/bin/ember train fmnist --model cnn --out runs/fmnist-cnn "$@"
./build/bin/ember eval fmnist --checkpoint runs/fmnist-cnn/model.safetensors
