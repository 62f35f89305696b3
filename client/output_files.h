// The files `v2p reconstruct` leaves for a person: timings.json and
// metrics.json, plus the summaries printed to the terminal.
#ifndef V2P_CLIENT_OUTPUT_FILES_H_
#define V2P_CLIENT_OUTPUT_FILES_H_

#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/evaluation/metrics.h"
#include "core/evaluation/report.h"
#include "voxel2pixel/v1/models.pb.h"

namespace v2p::client {

// Per-stage durations of every sample, keyed by stage name.
using StageSamples = std::map<std::string, std::vector<absl::Duration>>;

struct Percentiles {
  double median_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
};
// Median (mean of the middle two for even n) and nearest-rank p90 / p99.
Percentiles Summarize(std::vector<absl::Duration> samples);

// {"unit":"ms","samples":n,"batch_size":b,"stages":{"decode":{"median":..,"p90":..},...}}
std::string TimingsJson(const StageSamples& stages, int num_samples, int batch_size);

struct MetricsReport {
  std::string model;
  int64_t version = 0;
  core::ImageScores scores;
  bool has_baseline = false;
  core::ImageScores baseline;  // the mean training image
  std::string ssim_definition = core::kSsimDefinition;
};
std::string MetricsJson(const MetricsReport& report);

// A fixed-width table: reconstruction and mean-image rows.
std::string MetricsTable(const MetricsReport& report);

// A penalty chosen by cross-validation, as `v2p train` prints it: the
// choice, then each candidate with its held-out error, the choice marked.
std::string HyperparameterTable(const std::string& name, double chosen, int folds,
                                const std::vector<double>& grid, const std::vector<double>& error);
// The same for a penalty as GetModel and a job's result carry it.
std::string HyperparameterTable(const voxel2pixel::v1::Hyperparameter& h);

}  // namespace v2p::client

#endif  // V2P_CLIENT_OUTPUT_FILES_H_
