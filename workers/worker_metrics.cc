#include "workers/worker_metrics.h"

#include <tuple>
#include <utility>

#include "absl/time/time.h"
#include "proto/rpc_metrics.h"

namespace v2p::worker {

WorkerMetrics::WorkerMetrics(prometheus::Registry& registry)
    : stage_(prometheus::BuildHistogram()
                 .Name("v2p_stage_duration_seconds")
                 .Help("Wall time of each reconstruction stage per sample, by model and stage.")
                 .Register(registry)),
      batch_size_(
          prometheus::BuildHistogram()
              .Name("v2p_batch_size")
              .Help("Samples per batch run through a pipeline.")
              .Register(registry)
              .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128})),
      queued_rows_(prometheus::BuildGauge()
                       .Name("v2p_queue_depth")
                       .Help("Samples waiting to be batched.")
                       .Register(registry)
                       .Add({})),
      models_loaded_(prometheus::BuildGauge()
                         .Name("v2p_models_loaded")
                         .Help("Model versions loaded in this worker.")
                         .Register(registry)
                         .Add({})),
      refine_iterations_(prometheus::BuildCounter()
                             .Name("v2p_refine_iterations_total")
                             .Help("Refine-stage iterations (feature inversion) run for requests, "
                                   "by model; a batch shared by several requests counts once per "
                                   "request.")
                             .Register(registry)),
      progress_stalls_(prometheus::BuildCounter()
                           .Name("v2p_progress_stalls_total")
                           .Help("ReconstructWithProgress calls ended with RESOURCE_EXHAUSTED "
                                 "because the caller took no message for --progress_stall_s.")
                           .Register(registry)
                           .Add({})) {}

const ModelMetrics& WorkerMetrics::ForModel(const std::string& model) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = per_model_.find(model);
  if (it == per_model_.end()) {
    static constexpr const char* kNames[ModelMetrics::kStages] = {
        "queue", "preprocess", "decode", "generate", "refine", "encode", "total"};
    std::array<prometheus::Histogram*, ModelMetrics::kStages> made{};
    for (int i = 0; i < ModelMetrics::kStages; ++i) {
      made[i] = &stage_.Add({{"model", model}, {"stage", kNames[i]}}, LatencyBuckets());
    }
    it = per_model_
             .emplace(std::piecewise_construct, std::forward_as_tuple(model),
                      std::forward_as_tuple(made, &refine_iterations_, model))
             .first;
  }
  return it->second;
}

void ModelMetrics::CountRefineIterations(int iterations) const {
  prometheus::Counter* counter = refine_.load(std::memory_order_acquire);
  if (counter == nullptr) {
    // Racing first uses get the same counter from the family.
    counter = &refine_family_->Add({{"model", model_}});
    refine_.store(counter, std::memory_order_release);
  }
  counter->Increment(iterations);
}

void ModelMetrics::Observe(const core::StageTimings& t) const {
  const absl::Duration values[kStages] = {t.queue,  t.preprocess, t.decode, t.generate,
                                          t.refine, t.encode,     t.total};
  for (int i = 0; i < kStages; ++i) {
    if (i == 4 && t.refine == absl::ZeroDuration()) continue;  // no refiner in this pipeline
    h_[i]->Observe(absl::ToDoubleSeconds(values[i]));
  }
}

}  // namespace v2p::worker
