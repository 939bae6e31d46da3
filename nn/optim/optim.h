// Everything a training loop needs from nn/optim: optimizers, schedulers, gradient clipping.
#pragma once

#include "nn/optim/adam.h"
#include "nn/optim/clip_grad.h"
#include "nn/optim/optimizer.h"
#include "nn/optim/scheduler.h"
#include "nn/optim/sgd.h"
