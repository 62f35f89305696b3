// Dynamic batching per loaded pipeline: requests' samples queue for at
// most max_queue_delay (or until max_batch_size rows are waiting), then run
// through the pipeline as one batch, so the ridge decode becomes one matrix
// product instead of many memory-bound vector products. Each request gets
// its own rows back with `queue` set to its wait. Every pipeline run of the
// worker happens on these threads, so gRPC's threads never wait on a model.
// Thread-safe.
#ifndef V2P_WORKERS_BATCHER_H_
#define V2P_WORKERS_BATCHER_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/pipeline/pipeline.h"

namespace v2p::worker {

class Batcher {
 public:
  struct Options {
    int max_batch_size = 32;
    absl::Duration max_queue_delay = absl::Milliseconds(2);
    // Threads forming and running batches per pipeline (at most this many
    // batches of one model run at once).
    int threads_per_model = 2;
    // Called with each batch's row count (for a histogram); may be empty.
    std::function<void(int rows)> on_batch;
    // Called with the rows queued across all pipelines whenever it changes.
    std::function<void(int rows)> on_queue_change;
  };
  explicit Batcher(Options options) : options_(std::move(options)) {}
  ~Batcher();  // finishes queued work, then stops the threads

  using Result = absl::StatusOr<std::vector<core::Reconstruction>>;
  using Done = std::function<void(Result)>;
  struct Work {
    Eigen::MatrixXf betas;  // n x voxels, already validated
    // Checked before the batch runs; may be empty.
    std::function<bool()> is_cancelled;
    // Draws of z per sample (RunOptions::samples): a request with draws
    // runs as a batch of its own, since a generator pass per draw would
    // hold up the samples it shared a batch with.
    int num_samples = 0;
    uint64_t sample_seed = 0;
    // The decoded attention maps (RunOptions::attention), for a pipeline
    // that gives them (checked by the caller): a batch holding such a
    // request decodes the maps for all its rows and hands them only to the
    // requests that asked.
    bool attention = false;
    // A refined pipeline (RunOptions::refine_iterations, stop_refining):
    // a request that sets either runs as a batch of its own.
    int refine_iterations = 0;
    std::function<bool()> stop_refining;
    // The refiner's progress (RunOptions::progress_every, on_progress),
    // called on the batch thread; a request that asks runs alone.
    int progress_every = 0;
    core::RefineProgressFn on_progress;
    bool alone() const {
      return num_samples > 0 || refine_iterations > 0 || stop_refining || progress_every > 0;
    }
  };

  // Starts serving `pipeline` (a model version just loaded): its queue and
  // threads, which hold it until Release. Starting one served already does
  // nothing. The registry calls it before it hands the pipeline out.
  void Start(std::shared_ptr<const core::Pipeline> pipeline);

  // Queues `work` for `pipeline`, batched with other callers' samples for
  // the same pipeline, and returns at once; `done` is called exactly once,
  // on a batch thread, or at once on the caller's: UNAVAILABLE when
  // shutting down, ABORTED for a pipeline not served (one released after
  // the request fetched it: a race with an unload; fetch the model again
  // and resubmit). A request larger than max_batch_size, or any request
  // when it is 0, runs as a batch of its own. The pipeline encodes the PNGs
  // (its `encode` stage is the batch's).
  void Submit(const std::shared_ptr<const core::Pipeline>& pipeline, Work work, Done done);

  // Stops serving `pipeline` (an unloaded model): its queued requests are
  // answered, then its threads end and its reference to the pipeline is
  // dropped, so the pipeline's memory goes once no request holds it. Not
  // from a batch thread.
  void Release(const std::shared_ptr<const core::Pipeline>& pipeline);

 private:
  struct Item {
    Work work;
    std::chrono::steady_clock::time_point enqueued;
    Done done;
  };
  struct Queue {
    std::shared_ptr<const core::Pipeline> pipeline;
    std::deque<std::unique_ptr<Item>> items;
    int rows = 0;
    std::condition_variable ready;
    std::vector<std::thread> threads;
    bool released = false;
  };

  void Serve(Queue* queue);
  void ReportQueue();  // with mu_ held
  void RunBatch(const core::Pipeline& pipeline, std::vector<std::unique_ptr<Item>> batch);

  const Options options_;
  mutable std::mutex mu_;
  bool stopping_ = false;
  // The served pipelines. A queue holds its pipeline, so no other can have
  // its address while it is here.
  std::map<const core::Pipeline*, std::unique_ptr<Queue>> queues_;
};

}  // namespace v2p::worker

#endif  // V2P_WORKERS_BATCHER_H_
