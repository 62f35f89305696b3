// How a long fit talks to whoever runs it: progress, cancellation,
// checkpoints and a last word before committing. The local `v2p train`
// prints the progress; the worker's job runner writes it into the
// operation, checks its lease and keeps checkpoints for resumption.
#ifndef V2P_CORE_PIPELINE_TRAIN_HOOKS_H_
#define V2P_CORE_PIPELINE_TRAIN_HOOKS_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"

namespace v2p::core {

struct TrainingProgress {
  // kTrainingGenerator: step/total_steps count the generator's epochs.
  enum class Phase { kFitting, kTrainingGenerator, kEvaluating, kSaving };
  Phase phase = Phase::kFitting;
  int64_t step = 0;  // steps completed
  int64_t total_steps = 0;
  double loss = 0;  // objective of the last step
  int64_t resumed_from_step = 0;
};

struct TrainHooks {
  std::function<void(const TrainingProgress&)> on_progress;
  // Checked between steps; true stops training with CANCELLED.
  std::function<bool()> is_cancelled;
  // When set, each finished step is saved here and steps found here are
  // not fitted again (resumption after a lost worker).
  std::string checkpoint_dir;
  // Last word before the model is committed (e.g. "do I still hold the
  // job's lease?"); an error aborts without committing.
  std::function<absl::Status()> before_commit;

  void Report(const TrainingProgress& p) const {
    if (on_progress) on_progress(p);
  }
  bool cancelled() const { return is_cancelled && is_cancelled(); }
};

}  // namespace v2p::core

#endif  // V2P_CORE_PIPELINE_TRAIN_HOOKS_H_
