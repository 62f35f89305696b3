// `v2p-lab fattention evaluate`: the foreground-attention method's tables
// (core/methods/fattention): on digit69's 90/10 split, the full method and
// its three ablations (no attention: lambda = 0, mu = 1; no loop loss;
// neither) beside ridge and the mean image, with the paper's pairwise-SSIM
// identification and a contact sheet per row; then a k-fold
// cross-validation of the four over all 100 trials of 69dataset2.mat, so
// the ranking rests on more than 10 test images; and the region study,
// decoding from V1's voxels only against V2-V3's only.
#ifndef V2P_EXPERIMENTS_FATTENTION_COMMANDS_H_
#define V2P_EXPERIMENTS_FATTENTION_COMMANDS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace v2p::client {

struct FAttentionEvaluateOptions {
  // Holds the feature network (`v2p features train`); nothing is written to it.
  std::string repo;
  std::string network = "alexnet28";
  std::string data_root = "../shared/data";
  std::string out_dir;  // fattention_tables.md and the contact sheets
  std::string command;  // as typed, recorded in the tables
  int folds = 5;        // 0: no cross-validation
  // Which of "split", "cv" and "regions" to run (comma-separated), into
  // fattention_tables.md (with fattention_digit69.png), fattention_cv.md
  // and fattention_regions.md.
  std::string sections = "split,cv,regions";
  uint64_t seed = 1;
};

absl::Status RunFAttentionEvaluate(const FAttentionEvaluateOptions& options);

}  // namespace v2p::client

#endif  // V2P_EXPERIMENTS_FATTENTION_COMMANDS_H_
