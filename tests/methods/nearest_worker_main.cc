// v2p-worker with one more method, registered by one line: the worker the
// method-seam test spawns (--worker_binary).
#include <cstdio>

#include "core/methods/registry.h"
#include "tests/methods/nearest_stimulus_method.h"
#include "workers/worker_main.h"

int main(int argc, char** argv) {
  if (auto s = v2p::core::MethodRegistry::Global().Register(
          v2p::testing::NearestStimulusMethod::Entry());
      !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 2;
  }
  return v2p::worker::WorkerMain(argc, argv);
}
