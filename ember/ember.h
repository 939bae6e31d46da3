// ember's umbrella header: tensors and autograd ops, nn (modules, layers, optimizers, schedulers,
// safetensors checkpoints) and data (datasets, DataLoader, transforms, images). Include the
// folders' own headers instead to keep compile times down; hpo/ and zoo/ are not in here
// (include "hpo/study.h" or a model's header when you use them).
//
//   #include <ember/ember.h>      // installed: -I<prefix>/include (find_package / pkg-config add it)
//   #include "ember/ember.h"      // in the source tree (the repository root is the include root)
#pragma once

#include "autograd/grad_mode.h"
#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "data/dataset.h"
#include "data/fashion_mnist.h"
#include "data/idx.h"
#include "data/image.h"
#include "data/loader.h"
#include "data/transforms.h"
#include "nn/nn.h"
#include "nn/optim/adam.h"
#include "nn/optim/clip_grad.h"
#include "nn/optim/optim.h"
#include "nn/optim/scheduler.h"
#include "nn/optim/sgd.h"
#include "nn/safetensors.h"
#include "tensor/matmul_precision.h"
#include "tensor/parallel.h"
#include "tensor/tensor.h"
