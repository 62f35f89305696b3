// The worker's Prometheus metrics: per-stage durations by model and stage,
// batch sizes, rows queued for batching, models loaded. Injected into the
// components that record them; thread-safe.
#ifndef V2P_WORKERS_WORKER_METRICS_H_
#define V2P_WORKERS_WORKER_METRICS_H_

#include <array>
#include <map>
#include <mutex>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "core/base/stopwatch.h"

namespace v2p::worker {

// One model's per-stage histograms; Observe() takes no lock.
class StageHistograms {
 public:
  static constexpr int kStages = 7;
  explicit StageHistograms(std::array<prometheus::Histogram*, kStages> h) : h_(h) {}
  void Observe(const core::StageTimings& timings) const;

 private:
  std::array<prometheus::Histogram*, kStages> h_;
};

class WorkerMetrics {
 public:
  explicit WorkerMetrics(prometheus::Registry& registry);

  // The histograms of `model`, created on first use and kept (labels are
  // bounded by the models loaded). Look them up once per request, then
  // Observe() each sample.
  const StageHistograms& ForModel(const std::string& model);
  void RecordBatch(int rows) { batch_size_.Observe(rows); }
  void SetQueuedRows(int rows) { queued_rows_.Set(rows); }
  void SetModelsLoaded(int models) { models_loaded_.Set(models); }
  // Refine-stage iterations run for one request of `model`.
  void RecordRefineIterations(const std::string& model, int iterations) {
    refine_iterations_.Add({{"model", model}}).Increment(iterations);
  }
  // A progress stream ended because its caller stopped reading.
  void RecordProgressStall() { progress_stalls_.Increment(); }

 private:
  prometheus::Family<prometheus::Histogram>& stage_;
  prometheus::Histogram& batch_size_;
  prometheus::Gauge& queued_rows_;
  prometheus::Gauge& models_loaded_;
  prometheus::Family<prometheus::Counter>& refine_iterations_;
  prometheus::Counter& progress_stalls_;
  std::mutex mu_;
  std::map<std::string, StageHistograms> per_model_;  // nodes stay put
};

}  // namespace v2p::worker

#endif  // V2P_WORKERS_WORKER_METRICS_H_
