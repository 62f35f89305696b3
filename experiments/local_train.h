// `v2p train --repo`: a pipeline trained in this process on a dataset
// description and committed to a local repository (or, with --cv,
// cross-validated), with progress on stdout. Run by v2p-lab; `v2p`
// hands `train --repo` to it.
#ifndef V2P_EXPERIMENTS_LOCAL_TRAIN_H_
#define V2P_EXPERIMENTS_LOCAL_TRAIN_H_

#include <string>

#include "absl/status/status.h"

namespace v2p::client {

struct TrainOptions {
  std::string dataset;    // dataset description (.pbtxt)
  std::string spec;       // pipeline spec (.pbtxt)
  std::string repo;       // model repository (created when missing)
  std::string model;      // model name
  std::string data_root;  // resolves the description's relative file
  // > 0: report cv-fold cross-validated scores over every paired trial
  // instead of training a model (experiments/cross_validation.h).
  int cv = 0;
};
absl::Status RunTrain(const TrainOptions& options);

}  // namespace v2p::client

#endif  // V2P_EXPERIMENTS_LOCAL_TRAIN_H_
