// The worker's Prometheus metrics: per-stage durations by model and stage,
// batch sizes, rows queued for batching, models loaded. Injected into the
// components that record them; thread-safe.
#ifndef V2P_WORKERS_WORKER_METRICS_H_
#define V2P_WORKERS_WORKER_METRICS_H_

#include <array>
#include <map>
#include <mutex>
#include <string>

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "core/base/stopwatch.h"

namespace v2p::worker {

class WorkerMetrics {
 public:
  explicit WorkerMetrics(prometheus::Registry& registry);

  // One sample's stage timings. The histograms of a model are created on
  // its first sample and cached (labels are bounded by the models loaded).
  void RecordStages(const std::string& model, const core::StageTimings& timings);
  void RecordBatch(int rows) { batch_size_.Observe(rows); }
  void SetQueuedRows(int rows) { queued_rows_.Set(rows); }
  void SetModelsLoaded(int models) { models_loaded_.Set(models); }

 private:
  static constexpr int kStages = 7;
  prometheus::Family<prometheus::Histogram>& stage_;
  prometheus::Histogram& batch_size_;
  prometheus::Gauge& queued_rows_;
  prometheus::Gauge& models_loaded_;
  std::mutex mu_;
  std::map<std::string, std::array<prometheus::Histogram*, kStages>> per_model_;
};

}  // namespace v2p::worker

#endif  // V2P_WORKERS_WORKER_METRICS_H_
