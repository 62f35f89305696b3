// `v2p train --cv K`: k-fold cross-validated scores of a pipeline on every
// paired trial of a dataset (train and test pooled), each fold trained by
// the service's trainer in a scratch repository; nothing is committed.
#ifndef V2P_EXPERIMENTS_CROSS_VALIDATION_H_
#define V2P_EXPERIMENTS_CROSS_VALIDATION_H_

#include <string>

#include "absl/status/status.h"
#include "core/data/dataset.h"
#include "core/pipeline/trainer.h"

namespace v2p::client {

// `repo` lends its feature networks and the pipeline's stored generator.
// Prints one line per fold and the mean and SD over folds of each score.
absl::Status RunCrossValidation(const core::Dataset& dataset, const core::TrainRequest& request,
                                const std::string& repo, int folds);

}  // namespace v2p::client

#endif  // V2P_EXPERIMENTS_CROSS_VALIDATION_H_
