// Epoch checkpoints of a foreground-attention training
// (fattention_method.h), so that a job resumed after its worker was lost
// goes on from the last saved epoch and ends with the same weights as a run
// never interrupted.
//
// The training has three stages (0: the attention decoder, 1: the fMRI
// encoder, 2: the image decoder), each a number of epochs. After an epoch,
// Save writes the stage's network, its optimiser and LibTorch's random
// state into one archive, stage<k>_epoch<e>.pt, then progress.txt naming
// it with the batch shuffler's state (written under a temporary name and
// renamed: a worker killed mid-write leaves the previous set whole), then
// removes the stage's previous archive. A finished stage's last archive
// stays: later stages resume on top of it.
// Internal: includes torch, so only implementation files include it.
#ifndef V2P_CORE_METHODS_FATTENTION_EPOCH_CHECKPOINTS_H_
#define V2P_CORE_METHODS_FATTENTION_EPOCH_CHECKPOINTS_H_

#include <torch/torch.h>

#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace v2p::core::internal {

class EpochCheckpoints {
 public:
  // `dir` empty: no checkpoints (Save does nothing, Resume returns 0).
  // Not thread-safe: one per training.
  // stage_epochs: each stage's epochs as configured. A saved position the
  // configuration cannot hold, or files that do not read, are logged and
  // the training starts over.
  EpochCheckpoints(std::string dir, std::vector<int> stage_epochs);

  // Epochs already done over all stages (0 when starting afresh).
  int resumed_epochs() const;
  // Restores the batch shuffler to the saved state (a no-op when starting
  // afresh): epochs skipped draw nothing from it.
  void RestoreShuffler(std::mt19937_64* shuffler) const;

  // Before stage `stage` trains: loads its network (and, when the stage was
  // interrupted, its optimiser and LibTorch's random state) and returns
  // the epochs it has done: all of them for a finished stage, 0 for one
  // not begun.
  absl::StatusOr<int> Resume(int stage, torch::nn::Module& net,
                             torch::optim::Optimizer& optimizer) const;

  // After `epochs` epochs of `stage`.
  absl::Status Save(int stage, int epochs, const torch::nn::Module& net,
                    const torch::optim::Optimizer& optimizer, const std::mt19937_64& shuffler);

 private:
  std::string Archive(int stage, int epochs) const;
  bool ReadPosition();

  std::string dir_;
  std::vector<int> stage_epochs_;
  // The position saved last (or found at construction): stage_ and the
  // epochs_ done in it; stage_ < 0: none. shuffler_ as found.
  int stage_ = -1;
  int epochs_ = 0;
  std::string shuffler_;
};

}  // namespace v2p::core::internal

#endif  // V2P_CORE_METHODS_FATTENTION_EPOCH_CHECKPOINTS_H_
