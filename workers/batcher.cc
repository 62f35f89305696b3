#include "workers/batcher.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace v2p::worker {

Batcher::~Batcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (auto& [p, q] : queues_) q->ready.notify_all();
  }
  for (auto& [p, q] : queues_) {
    for (auto& t : q->threads) t.join();
  }
}

void Batcher::ReportQueue() {
  if (!options_.on_queue_change) return;
  int rows = 0;
  for (const auto& [p, q] : queues_) rows += q->rows;
  options_.on_queue_change(rows);
}

absl::StatusOr<std::vector<core::Reconstruction>> Batcher::Run(
    std::shared_ptr<const core::Pipeline> pipeline, Eigen::MatrixXf betas,
    std::function<bool()> is_cancelled) {
  auto item = std::make_unique<Item>();
  item->betas = std::move(betas);
  item->is_cancelled = std::move(is_cancelled);
  item->enqueued = std::chrono::steady_clock::now();
  auto future = item->result.get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return absl::UnavailableError("worker is shutting down");
    auto& q = queues_[pipeline.get()];
    if (!q) {
      // Threads per loaded pipeline; the queue keeps the pipeline alive.
      q = std::make_unique<Queue>();
      q->pipeline = pipeline;
      for (int i = 0; i < std::max(1, options_.threads_per_model); ++i) {
        q->threads.emplace_back(&Batcher::Serve, this, q.get());
      }
    }
    q->rows += static_cast<int>(item->betas.rows());
    q->items.push_back(std::move(item));
    q->ready.notify_all();
    ReportQueue();
  }
  return future.get();
}

void Batcher::Serve(Queue* q) {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    q->ready.wait(lock, [&] { return stopping_ || !q->items.empty(); });
    if (q->items.empty()) return;  // stopping, nothing left
    // The oldest sample waits at most max_queue_delay for company.
    const auto deadline = q->items.front()->enqueued + absl::ToChronoNanoseconds(options_.max_queue_delay);
    q->ready.wait_until(lock, deadline, [&] {
      return stopping_ || q->rows >= options_.max_batch_size;
    });
    std::vector<std::unique_ptr<Item>> batch;
    int rows = 0;
    while (!q->items.empty()) {
      const int next = static_cast<int>(q->items.front()->betas.rows());
      if (!batch.empty() && rows + next > options_.max_batch_size) break;
      rows += next;
      batch.push_back(std::move(q->items.front()));
      q->items.pop_front();
    }
    q->rows -= rows;
    ReportQueue();
    lock.unlock();
    RunBatch(*q->pipeline, std::move(batch));
    lock.lock();
  }
}

void Batcher::RunBatch(const core::Pipeline& pipeline, std::vector<std::unique_ptr<Item>> batch) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<Item*> live;
  Eigen::Index rows = 0;
  for (auto& item : batch) {
    if (item->is_cancelled && item->is_cancelled()) {
      item->result.set_value(absl::CancelledError("request cancelled while queued"));
      continue;
    }
    live.push_back(item.get());
    rows += item->betas.rows();
  }
  if (live.empty()) return;
  if (options_.on_batch) options_.on_batch(static_cast<int>(rows));
  Eigen::MatrixXf all(rows, live.front()->betas.cols());
  Eigen::Index at = 0;
  for (Item* item : live) {
    all.middleRows(at, item->betas.rows()) = item->betas;
    at += item->betas.rows();
  }
  core::RunOptions no_png;
  no_png.encode_png = false;
  auto results = pipeline.Run(all, no_png);
  at = 0;
  for (Item* item : live) {
    if (!results.ok()) {
      item->result.set_value(results.status());
      continue;
    }
    std::vector<core::Reconstruction> mine(
        std::make_move_iterator(results->begin() + at),
        std::make_move_iterator(results->begin() + at + item->betas.rows()));
    at += item->betas.rows();
    const absl::Duration queued = absl::FromChrono(start - item->enqueued);
    for (auto& r : mine) {
      r.timings.queue = queued;
      r.timings.total += queued;
    }
    item->result.set_value(std::move(mine));
  }
}

}  // namespace v2p::worker
