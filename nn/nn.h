// Everything a training script needs from nn/: modules, layers, containers, init.
// (Optimizers, schedulers and checkpoints: nn/optim/, nn/safetensors.h.)
#pragma once

#include "nn/container.h"
#include "nn/init.h"
#include "nn/layers.h"
#include "nn/module.h"
