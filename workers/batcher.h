// Dynamic batching per loaded pipeline: requests' samples queue for at
// most max_queue_delay (or until max_batch_size rows are waiting), then run
// through the pipeline as one batch, so the ridge decode becomes one matrix
// product instead of many memory-bound vector products. Each request gets
// its own rows back with `queue` set to its wait. Thread-safe.
#ifndef V2P_WORKERS_BATCHER_H_
#define V2P_WORKERS_BATCHER_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
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

  // Runs `betas` (n x voxels, already validated) through `pipeline`,
  // batched with other callers' samples for the same pipeline. Blocks until
  // its results are ready. A request larger than max_batch_size runs as a
  // batch of its own. `is_cancelled` is checked before the batch runs.
  // PNGs are not encoded here: each caller encodes its own on its own
  // thread, so that this per-sample work does not serialise on the batch.
  absl::StatusOr<std::vector<core::Reconstruction>> Run(
      std::shared_ptr<const core::Pipeline> pipeline, Eigen::MatrixXf betas,
      std::function<bool()> is_cancelled);


 private:
  struct Item {
    Eigen::MatrixXf betas;
    std::function<bool()> is_cancelled;
    std::chrono::steady_clock::time_point enqueued;
    std::promise<absl::StatusOr<std::vector<core::Reconstruction>>> result;
  };
  struct Queue {
    std::shared_ptr<const core::Pipeline> pipeline;
    std::deque<std::unique_ptr<Item>> items;
    int rows = 0;
    std::condition_variable ready;
    std::vector<std::thread> threads;
  };

  void Serve(Queue* queue);
  void ReportQueue();  // with mu_ held
  void RunBatch(const core::Pipeline& pipeline, std::vector<std::unique_ptr<Item>> batch);

  const Options options_;
  mutable std::mutex mu_;
  bool stopping_ = false;
  std::map<const core::Pipeline*, std::unique_ptr<Queue>> queues_;
};

}  // namespace v2p::worker

#endif  // V2P_WORKERS_BATCHER_H_
