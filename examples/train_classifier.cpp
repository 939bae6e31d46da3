// A complete training script to copy as the start of your own project: a small CNN on
// Fashion-MNIST with the nn, data and optim APIs, a checkpoint at the end, and a reload check.
//
//   ./build/examples/train_classifier [steps_per_epoch (0 = all)] [epochs]
#include <cstdio>
#include <cstdlib>

#include "data/fashion_mnist.h"
#include "data/loader.h"
#include "nn/nn.h"
#include "nn/optim/adam.h"
#include "nn/safetensors.h"

using namespace ember;

int main(int argc, char** argv) {
  const int64_t max_steps = argc > 1 ? std::atoll(argv[1]) : 0;
  const int64_t epochs = argc > 2 ? std::atoll(argv[2]) : 1;
  try {
    manual_seed(0);
    auto train = std::make_shared<data::FashionMnist>(data::Split::train);
    data::FashionMnist test(data::Split::test);
    data::DataLoader loader(train, {.batch_size = 64, .shuffle = true, .seed = 0});

    auto make_model = [] {
      return std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
          std::make_shared<nn::Conv2d>(1, 16, 3, nn::ConvOptions{.padding = 1}), std::make_shared<nn::ReLU>(),
          std::make_shared<nn::MaxPool2d>(2), std::make_shared<nn::Flatten>(),
          std::make_shared<nn::Linear>(16 * 14 * 14, 10)});
    };
    auto model = make_model();
    std::printf("%s", model->summary().c_str());
    nn::Adam opt(model->parameters(), {.lr = 1e-3});

    for (int64_t epoch = 0; epoch < epochs; ++epoch) {
      loader.set_epoch(epoch);
      int64_t step = 0;
      for (data::Batch& batch : loader) {
        opt.zero_grad();
        Tensor loss = cross_entropy(model->forward(batch.input), batch.target);
        loss.backward();
        opt.step();
        if (++step % 100 == 0 || step == max_steps) std::printf("epoch %lld step %lld loss %.4f\n",
                                                                 (long long)epoch, (long long)step, loss.item());
        if (step == max_steps) break;
      }
    }

    // Test accuracy on 2,000 images, without recording a graph.
    model->eval();
    NoGradGuard no_grad;
    Tensor x = test.images().narrow(0, 0, 2000), y = test.labels().narrow(0, 0, 2000);
    Tensor logits = model->forward(x);
    const double accuracy = sum(eq(argmax(logits, 1), y)).item() / 2000.0;
    std::printf("test accuracy %.2f%%\n", 100 * accuracy);

    // Save, reload into a fresh model, and check it predicts the same.
    nn::save_safetensors("classifier.safetensors", model->state_dict());
    auto copy = make_model();
    copy->load_state_dict(nn::load_safetensors("classifier.safetensors").tensors);
    const bool same = sum(ne(argmax(copy->forward(x), 1), argmax(logits, 1))).item() == 0;
    std::printf("checkpoint classifier.safetensors reloads: %s\n", same ? "ok" : "MISMATCH");
    return same ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
