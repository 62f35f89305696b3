// Shared by the evaluation commands (`generators evaluate`, `gan
// evaluate`): the digit69 generators' unpaired images, and a throwaway
// model repository in which the served pipelines are trained in-process by
// the same trainer the service runs, so a table scores exactly what a lab
// would serve.
#ifndef V2P_EXPERIMENTS_EVALUATION_SUPPORT_H_
#define V2P_EXPERIMENTS_EVALUATION_SUPPORT_H_

#include <memory>
#include <string>
#include <vector>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "core/data/dataset.h"
#include "core/pipeline/pipeline.h"
#include "core/pipeline/trainer.h"

namespace v2p::client {

// Unpaired training images for digit69 generators: X_prior (2000 sixes and
// nines never shown in the scanner) and the sixes and nines of the MNIST
// corpus. Never the digit69 stimuli themselves.
absl::StatusOr<Eigen::MatrixXf> Digit69PriorImages(const std::string& data_root);
// X_prior alone: what examples/digit69_dataset_prior-style descriptions
// name as unpaired_images.
absl::StatusOr<Eigen::MatrixXf> Digit69XPrior(const std::string& data_root);

class ScratchRepository {
 public:
  // A fresh repository under the temp directory (named after `tag`) that
  // links the feature networks of `repo`. Removed on destruction.
  static absl::StatusOr<std::unique_ptr<ScratchRepository>> Create(const std::string& repo,
                                                                   const std::string& tag);
  ~ScratchRepository();
  const std::string& root() const { return root_; }
  // Makes `repo`'s generator `name` (every version) visible here.
  absl::Status LinkGenerator(const std::string& repo, const std::string& name);
  // Trains `request` on `dataset` and loads the committed model.
  absl::StatusOr<std::shared_ptr<const core::Pipeline>> Train(const core::Dataset& dataset,
                                                              const core::TrainRequest& request);

 private:
  explicit ScratchRepository(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

// Runs `pipeline` on `betas` without PNGs: the images (n x pixels; empty
// when it draws none) and the decoded features or latents (n x k).
struct PipelineOutputs {
  Eigen::MatrixXf images, features;
};
absl::StatusOr<PipelineOutputs> RunPipeline(const core::Pipeline& pipeline,
                                            const Eigen::MatrixXd& betas);

}  // namespace v2p::client

#endif  // V2P_EXPERIMENTS_EVALUATION_SUPPORT_H_
