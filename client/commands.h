// The `v2p` subcommands as library functions with plain options, so that
// tests and benchmarks drive exactly what the CLI runs. Each prints its
// progress and results to stdout and returns a Status.
#ifndef V2P_CLIENT_COMMANDS_H_
#define V2P_CLIENT_COMMANDS_H_

#include <string>

#include "absl/status/status.h"

namespace v2p::client {

struct ModelsOptions {
  std::string server;
  std::string name;  // for "show"
  int64_t version = 0;
};
absl::Status RunModelsList(const ModelsOptions& options);
absl::Status RunModelsShow(const ModelsOptions& options);
// Loads (warms up) or releases a model version on every worker.
absl::Status RunModelsLoad(const ModelsOptions& options);
absl::Status RunModelsUnload(const ModelsOptions& options);

struct ReconstructOptions {
  std::string server;
  std::string model;
  int64_t version = 0;
  std::string betas;                 // any core/data/matrix_file.h format
  std::string mask;                  // NIfTI betas: the mask volume
  std::string var;                   // samples x voxels variable
  std::string stimuli_var;           // optional: samples x pixels, for metrics
  bool stimuli_column_major = true;  // MATLAB layout
  double pixel_max = 0;              // 0: the model's
  std::string out;                   // output directory (created)
  int batch_size = 1;
  bool stream = false;  // StreamReconstruct instead of unary batches
  int deadline_s = 60;  // per request
  // > 0: also that many draws per sample from a stochastic generator, with
  // their per-pixel SD (<id>_sample<k>.png, <id>_sd.png, samples_sheet.png).
  int samples = 0;
  // Also the decoded attention map of each sample (a foreground-attention
  // model): <id>_attention.png and attention_sheet.png.
  bool attention = false;
  // Also report.html (client/report_html.h); needs stimuli_var.
  bool report = false;
  // A refined model (method shen): the refiner's iterations per request
  // (0: the model's own), and > 0: ReconstructWithProgress, printing each
  // batch's loss every this many iterations.
  int refine_iterations = 0;
  int progress_every = 0;
};
absl::Status RunReconstruct(const ReconstructOptions& options);

}  // namespace v2p::client

#endif  // V2P_CLIENT_COMMANDS_H_
