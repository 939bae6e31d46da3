// Everything a training loop needs from nn/optim: optimizers, schedulers, gradient clipping.
//
//   AdamW opt(model->parameters(), {.lr = 1e-3, .weight_decay = 1e-2});
//   OneCycle sched(opt, {.max_lr = {1e-2}, .total_steps = epochs * batches_per_epoch});
//   for each batch:
//     opt.zero_grad();
//     loss.backward();
//     clip_grad_norm_(opt.params(), 1.0);
//     opt.step();
//     sched.step();
//   checkpoint (beside the model's weights file):
//     auto meta = sched.state_dict();  meta["epoch"] = std::to_string(epoch);
//     opt.save("run.optim.safetensors", meta);
//   resume (same construction first, then):
//     auto meta = opt.load("run.optim.safetensors");  sched.load_state_dict(meta);
#pragma once

#include "nn/optim/adam.h"
#include "nn/optim/clip_grad.h"
#include "nn/optim/optimizer.h"
#include "nn/optim/scheduler.h"
#include "nn/optim/sgd.h"
