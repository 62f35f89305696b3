#include "workers/batcher.h"

#include <algorithm>

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

void Batcher::Start(std::shared_ptr<const core::Pipeline> pipeline) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& q = queues_[pipeline.get()];
  if (q) return;
  q = std::make_unique<Queue>();
  q->pipeline = std::move(pipeline);
  for (int i = 0; i < std::max(1, options_.threads_per_model); ++i) {
    q->threads.emplace_back(&Batcher::Serve, this, q.get());
  }
}

void Batcher::Submit(const std::shared_ptr<const core::Pipeline>& pipeline, Work work, Done done) {
  auto item = std::make_unique<Item>();
  item->work = std::move(work);
  item->enqueued = std::chrono::steady_clock::now();
  item->done = std::move(done);
  absl::Status refused;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = queues_.find(pipeline.get());
    if (stopping_) {
      refused = absl::UnavailableError("worker is shutting down");
    } else if (it == queues_.end()) {
      refused = absl::AbortedError("the model was unloaded while this request was in flight");
    } else {
      Queue& q = *it->second;
      q.rows += static_cast<int>(item->work.betas.rows());
      q.items.push_back(std::move(item));
      q.ready.notify_one();
      ReportQueue();
      return;
    }
  }
  item->done(refused);
}

void Batcher::Release(const std::shared_ptr<const core::Pipeline>& pipeline) {
  std::unique_ptr<Queue> q;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = queues_.find(pipeline.get());
    if (it == queues_.end()) return;
    q = std::move(it->second);
    queues_.erase(it);
    q->released = true;
    q->ready.notify_all();
  }
  for (auto& t : q->threads) t.join();  // after answering what was queued
}

void Batcher::Serve(Queue* q) {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    q->ready.wait(lock, [&] { return stopping_ || q->released || !q->items.empty(); });
    if (q->items.empty()) return;  // stopping or released, nothing left
    // The oldest sample waits at most max_queue_delay for company.
    const auto deadline =
        q->items.front()->enqueued + absl::ToChronoNanoseconds(options_.max_queue_delay);
    q->ready.wait_until(lock, deadline,
                        [&] { return stopping_ || q->rows >= options_.max_batch_size; });
    std::vector<std::unique_ptr<Item>> batch;
    int rows = 0;
    while (!q->items.empty()) {
      const Work& next = q->items.front()->work;
      const int n = static_cast<int>(next.betas.rows());
      if (!batch.empty() &&
          (rows + n > options_.max_batch_size || next.alone() || batch.front()->work.alone())) {
        break;
      }
      rows += n;
      batch.push_back(std::move(q->items.front()));
      q->items.pop_front();
    }
    q->rows -= rows;
    ReportQueue();
    // Submit wakes one thread per request (waking all of them would cost a
    // context switch each for nothing): what this batch leaves is handed on.
    if (!q->items.empty()) q->ready.notify_one();
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
    if (item->work.is_cancelled && item->work.is_cancelled()) {
      item->done(absl::CancelledError("request cancelled while queued"));
      continue;
    }
    live.push_back(item.get());
    rows += item->work.betas.rows();
  }
  if (live.empty()) return;
  if (options_.on_batch) options_.on_batch(static_cast<int>(rows));
  core::RunOptions options;
  options.attention =
      std::any_of(live.begin(), live.end(), [](const Item* item) { return item->work.attention; });
  Result results;
  if (live.size() == 1) {
    // Alone (as every request with draws is): no copy.
    const Work& work = live.front()->work;
    options.is_cancelled = work.is_cancelled;
    options.samples = work.num_samples;
    options.sample_seed = work.sample_seed;
    options.refine_iterations = work.refine_iterations;
    options.stop_refining = work.stop_refining;
    options.progress_every = work.progress_every;
    options.on_progress = work.on_progress;
    results = pipeline.Run(work.betas, options);
  } else {
    Eigen::MatrixXf all(rows, live.front()->work.betas.cols());
    Eigen::Index at = 0;
    for (Item* item : live) {
      all.middleRows(at, item->work.betas.rows()) = item->work.betas;
      at += item->work.betas.rows();
    }
    results = pipeline.Run(all, options);
  }
  Eigen::Index at = 0;
  for (Item* item : live) {
    if (!results.ok()) {
      item->done(results.status());
      continue;
    }
    std::vector<core::Reconstruction> mine(
        std::make_move_iterator(results->begin() + at),
        std::make_move_iterator(results->begin() + at + item->work.betas.rows()));
    at += item->work.betas.rows();
    const absl::Duration queued = absl::FromChrono(start - item->enqueued);
    for (auto& r : mine) {
      r.timings.queue = queued;
      r.timings.total += queued;
      if (!item->work.attention) {
        r.attention.resize(0);
        r.attention_png.clear();
      }
    }
    item->done(std::move(mine));
  }
}

}  // namespace v2p::worker
