// Dynamic batching at the gateway: concurrent Reconstruct requests for the
// same model are sent to a worker as one call, so the gateway->worker hop
// and the worker's per-call work are paid once per batch instead of once
// per sample, and the worker's own batcher gets the whole batch at once.
//
// No thread of its own and none blocked: a request that finds fewer than
// `max_calls()` batches of its model in flight sends one at once, taking
// the oldest queued requests up to max_batch_size samples; the others
// queue, and each batch's answer sends the next batch from the queue
// before it answers its own members, so nothing queued is stranded. Each
// request keeps its own deadline and cancellation: one withdrawn while
// queued (its caller gave up) leaves the queue; one already sent is
// answered when its batch is. A batch's call carries the latest deadline of
// its members. Its status, when not OK, is every member's status. The wait
// is added to each result's `queue` and `total` stage times. Thread-safe.
#ifndef V2P_SERVER_REQUEST_COALESCER_H_
#define V2P_SERVER_REQUEST_COALESCER_H_

#include <grpcpp/grpcpp.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <tuple>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "voxel2pixel/v1/reconstruction.pb.h"

namespace v2p::server {

class RequestCoalescer {
 public:
  struct Options {
    // Most samples in one worker call; a request larger than this is sent
    // alone. 1 or less: every request goes alone (no coalescing).
    int max_batch_size = 32;
    // Batches of one model in flight at once (for example 2 per ready
    // worker); read when a request arrives and when a batch is answered.
    std::function<int()> max_calls = [] { return 2; };
    // Called with each sent batch's sample count; may be empty.
    std::function<void(int samples)> on_batch;
    // Called, without the lock, with the change in samples queued (waiting
    // for a batch): +n when a request queues, -n when it is sent or its
    // caller withdraws it. Deltas, so calls may interleave. May be empty.
    std::function<void(int delta)> on_queued;
  };
  // Sends `request` to a worker and calls `done` once when answered (the
  // Dispatcher's job). `context` is the caller's for a request sent alone,
  // else null and `deadline` bounds the call. The pointers stay valid until
  // `done` is called.
  using Send = std::function<void(
      const grpc::ServerContextBase* context, const voxel2pixel::v1::ReconstructRequest* request,
      absl::Time deadline, voxel2pixel::v1::ReconstructResponse* response,
      std::function<void(grpc::Status)> done)>;
  // How a request is answered: called once, never with the lock held.
  using Done = std::function<void(grpc::Status, voxel2pixel::v1::ReconstructResponse)>;

  RequestCoalescer(Options options, Send send)
      : options_(std::move(options)), send_(std::move(send)) {}
  ~RequestCoalescer();  // every ticket must be answered

  struct Entry;
  using Ticket = std::shared_ptr<Entry>;
  // A ticket for one request, to be answered through `done`: Submit it, or
  // Withdraw it (a request that fails validation).
  Ticket Open(Done done);
  // Queues `request` (validated) to be sent with others, or sends it alone
  // when it is too large or asks for draws (num_samples > 0: a generator
  // pass each, not batched). `request` and `context` (may be null) must
  // stay valid until the ticket is answered. A ticket withdrawn already is
  // not sent.
  void Submit(const Ticket& ticket, const grpc::ServerContextBase* context, absl::Time deadline,
              const voxel2pixel::v1::ReconstructRequest& request);
  // Answers the ticket with `status` unless it has been sent (its batch
  // answers it) or answered already.
  void Withdraw(const Ticket& ticket, grpc::Status status);

 private:
  struct Batch;
  struct Key {
    std::string model;
    int64_t version;
    bool include_pixels;
    bool include_attention;
    bool operator<(const Key& o) const {
      return std::tie(model, version, include_pixels, include_attention) <
             std::tie(o.model, o.version, o.include_pixels, o.include_attention);
    }
  };
  struct Group {
    std::deque<Ticket> queue;
    int in_flight = 0;  // batches sent and not yet answered
  };

  // Requests with draws or with their own refine settings go alone: their
  // fields are not the merged request's.
  bool Queues(const voxel2pixel::v1::ReconstructRequest& request) const {
    return options_.max_batch_size > 1 && request.num_samples() == 0 &&
           request.refine_iterations() == 0 && !request.partial_results() &&
           request.samples_size() < options_.max_batch_size;
  }
  // The oldest queued requests of `group`, up to max_batch_size samples,
  // marked sent.
  std::unique_ptr<Batch> Take(Group* group) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendBatch(std::unique_ptr<Batch> batch) ABSL_LOCKS_EXCLUDED(mu_);
  void BatchAnswered(Batch* batch, grpc::Status status) ABSL_LOCKS_EXCLUDED(mu_);
  void SendAlone(const Ticket& ticket) ABSL_LOCKS_EXCLUDED(mu_);
  void ReportQueued(int delta) const ABSL_LOCKS_EXCLUDED(mu_) {
    if (delta != 0 && options_.on_queued) options_.on_queued(delta);
  }

  const Options options_;
  const Send send_;
  absl::Mutex mu_;
  std::map<Key, std::unique_ptr<Group>> groups_ ABSL_GUARDED_BY(mu_);
};

}  // namespace v2p::server

#endif  // V2P_SERVER_REQUEST_COALESCER_H_
