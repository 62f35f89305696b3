// The worker's Prometheus metrics: per-stage durations by model and stage,
// batch sizes, rows queued for batching, models loaded. Injected into the
// components that record them; thread-safe.
#ifndef V2P_WORKERS_WORKER_METRICS_H_
#define V2P_WORKERS_WORKER_METRICS_H_

#include <array>
#include <atomic>
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

// One model's metrics: its per-stage histograms and, for a model with a
// refine stage, its refiner's iterations (the counter made on first use,
// so models without one show no series). Takes no lock.
class ModelMetrics {
 public:
  static constexpr int kStages = 7;
  ModelMetrics(std::array<prometheus::Histogram*, kStages> h,
               prometheus::Family<prometheus::Counter>* refine_family, std::string model)
      : h_(h), refine_family_(refine_family), model_(std::move(model)) {}
  void Observe(const core::StageTimings& timings) const;
  // Refine-stage iterations run for one request.
  void CountRefineIterations(int iterations) const;

 private:
  std::array<prometheus::Histogram*, kStages> h_;
  prometheus::Family<prometheus::Counter>* const refine_family_;
  const std::string model_;
  mutable std::atomic<prometheus::Counter*> refine_{nullptr};
};

class WorkerMetrics {
 public:
  explicit WorkerMetrics(prometheus::Registry& registry);

  // The metrics of `model`, created on first use and kept (labels are
  // bounded by the models loaded). Look them up once per request, then
  // Observe() each sample.
  const ModelMetrics& ForModel(const std::string& model);
  void RecordBatch(int rows) { batch_size_.Observe(rows); }
  void SetQueuedRows(int rows) { queued_rows_.Set(rows); }
  void SetModelsLoaded(int models) { models_loaded_.Set(models); }
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
  std::map<std::string, ModelMetrics> per_model_;  // nodes stay put
};

}  // namespace v2p::worker

#endif  // V2P_WORKERS_WORKER_METRICS_H_
