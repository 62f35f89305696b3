// `v2p-lab shen evaluate`: deep image reconstruction (Shen et al. 2019,
// core/methods/shen) on digit69's 90/10 split, as their Fig. 2d compares
// it: from the TRUE features of the test stimuli and from the DECODED
// features (the "shen" method trained by the service's trainer, run as
// served), for layer sets conv1; conv1-conv3; every layer but the last,
// with L-BFGS, gradient descent and gradient descent with a TV prior
// (Grad-TV), and over the condition of a DeCNN generator trained here (the
// deep-generator-network prior), with norm correction on and off for
// decoded features;
// PCC, SSIM-11g and identification by PCC and by SSIM; beside ridge to
// pixels and the mean image (run here) and HYPER (quoted from
// docs/results/gan, `v2p-lab gan evaluate`, which takes over half an hour);
// a contact sheet per row.
#ifndef V2P_EXPERIMENTS_SHEN_COMMANDS_H_
#define V2P_EXPERIMENTS_SHEN_COMMANDS_H_

#include <string>

#include "absl/status/status.h"

namespace v2p::client {

struct ShenEvaluateOptions {
  std::string repo;  // holds the feature network (`v2p features train`)
  std::string network = "alexnet28";
  std::string data_root = "../shared/data";
  std::string out_dir;  // shen_tables.md and sheets/
  std::string command;  // as typed, recorded in the tables
  int iterations = 200;
  int prior_epochs = 20;  // the DGN prior's generator
};

absl::Status RunShenEvaluate(const ShenEvaluateOptions& options);

}  // namespace v2p::client

#endif  // V2P_EXPERIMENTS_SHEN_COMMANDS_H_
