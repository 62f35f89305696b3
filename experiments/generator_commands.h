// `v2p generators train`: trains a conditional generator (ICG, CVAE, CGAN
// or De-CNN; core/generation/icg.h) on unpaired images whose conditions
// are CNN units computed by a stored feature network, stores it in the
// repository, and scores it against the digit69 test stimuli from their
// TRUE features: the generator's quality before any brain data is involved
// (the upper bound of Du et al. 2020 Table 3).
#ifndef V2P_EXPERIMENTS_GENERATOR_COMMANDS_H_
#define V2P_EXPERIMENTS_GENERATOR_COMMANDS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace v2p::client {

struct GeneratorsTrainOptions {
  std::string repo;  // holds the feature network; the generator goes here
  std::string name;  // default: <dataset name or digit69>_<kind>
  std::string kind = "ICG";
  std::string network = "alexnet28";
  std::string layers = "fc6";  // comma-separated; the condition units
  std::string data_root = "../shared/data";
  // Optional dataset description: train on its unpaired images, or its
  // shifted training stimuli when it names none, and score on its test
  // stimuli; empty: digit69's X_prior + MNIST 6s and 9s.
  std::string dataset;
  // Resolves the description's relative file; empty: its directory.
  std::string dataset_root;
  std::string out;  // optional: contact_sheet.png of the true-feature reconstructions
  int epochs = 20;
  int latent_size = 16;
  double margin = 30;
  uint64_t seed = 1;
};

struct GeneratorsTrainResult {
  int64_t version = 0;
  std::string dir;
  double pcc = 0, ssim = 0, identification = 0;  // from true test features
  double mean_pcc = 0, mean_identification = 0;  // the mean training image
};

absl::StatusOr<GeneratorsTrainResult> RunGeneratorsTrain(const GeneratorsTrainOptions& options);

struct GeneratorsEvaluateOptions {
  std::string repo;
  std::string network = "alexnet28";
  std::string layers = "fc6";
  std::string kinds = "ICG,CVAE,CGAN,DeCNN";
  std::string data_root = "../shared/data";
  std::string out_dir;  // table and contact sheets
  std::string command;  // as typed, recorded in the table
  int epochs = 20;      // for generators that must be trained first
  // ICG conditioned on only the top-k decodable units (ranked by 5-fold
  // ridge CV on the training trials), trained here for each k; empty: none.
  std::vector<int> top_k;
};

// Du et al. (2020) Table 3 for digit69: PCC and SSIM (mean +/- sd over the
// test images) of each generator from the TRUE features of the test
// stimuli and from features DECODED from the test betas (ridge, alpha
// 1e3; and SMR, as examples/digit69_features_smr.pbtxt), their ratio, and
// identification; ICG on the top-k decodable units; the ridge betas -> pixels
// pipeline and the mean image as reference rows. Uses the latest stored
// digit69_<kind> generator conditioned on the same layers, training one
// when there is none. Writes digit69_table3.md and <kind>_sheet.png
// (stimuli, from true, from decoded features) into out_dir.
absl::Status RunGeneratorsEvaluate(const GeneratorsEvaluateOptions& options);

}  // namespace v2p::client

#endif  // V2P_EXPERIMENTS_GENERATOR_COMMANDS_H_
