// Dynamic batching at the gateway: concurrent Reconstruct requests for the
// same model are sent to a worker as one call, so the gateway->worker hop
// and the worker's per-call work are paid once per batch instead of once
// per sample, and the worker's own batcher gets the whole batch at once.
//
// No thread of its own (leader/follower): a request that finds fewer than
// `max_calls()` batches of its model in flight sends one itself, taking the
// oldest queued requests up to max_batch_size samples; the others wait. A
// sender whose own request is answered leaves, promoting the oldest waiting
// request to sender if samples are still queued, so nothing queued is ever
// stranded. Each request keeps its own deadline and cancellation: one that
// gives up while still queued is removed; one already sent is answered to
// nobody. A batch's call carries the latest deadline of its members. Its
// status, when not OK, is every member's status. The wait is added to each
// result's `queue` and `total` stage times. Thread-safe.
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
    // worker); read when a request decides whether to send.
    std::function<int()> max_calls = [] { return 2; };
    // Called with each sent batch's sample count; may be empty.
    std::function<void(int samples)> on_batch;
  };
  // Sends `request` to a worker by `deadline` (the Dispatcher's job).
  using Send = std::function<grpc::Status(const voxel2pixel::v1::ReconstructRequest& request,
                                          absl::Time deadline,
                                          voxel2pixel::v1::ReconstructResponse* response)>;

  RequestCoalescer(Options options, Send send)
      : options_(std::move(options)), send_(std::move(send)) {}
  ~RequestCoalescer();  // callers must have returned

  // Whether Run would queue `request` rather than send it alone (callers
  // with a caller context to forward send lone requests themselves).
  bool Accepts(const voxel2pixel::v1::ReconstructRequest& request) const {
    return options_.max_batch_size > 1 && request.samples_size() < options_.max_batch_size;
  }

  // Answers `request` (validated; num_samples == 0) into `response`.
  // `context` may be null (no caller deadline or cancellation then beyond
  // `deadline`).
  grpc::Status Run(const grpc::ServerContext* context, absl::Time deadline,
                   const voxel2pixel::v1::ReconstructRequest& request,
                   voxel2pixel::v1::ReconstructResponse* response);

 private:
  struct Entry;
  struct Key {
    std::string model;
    int64_t version;
    bool include_pixels;
    bool operator<(const Key& o) const {
      return std::tie(model, version, include_pixels) <
             std::tie(o.model, o.version, o.include_pixels);
    }
  };
  struct Group {
    std::deque<std::shared_ptr<Entry>> queue;
    int senders = 0;  // sending now, or promoted to
  };

  // Sends batches from `group` until `mine` is answered; then leaves.
  void SendWhileNeeded(Group* group, Entry* mine) ABSL_LOCKS_EXCLUDED(mu_);
  void SendOne(Group* group) ABSL_LOCKS_EXCLUDED(mu_);

  const Options options_;
  const Send send_;
  absl::Mutex mu_;
  std::map<Key, std::unique_ptr<Group>> groups_ ABSL_GUARDED_BY(mu_);
};

}  // namespace v2p::server

#endif  // V2P_SERVER_REQUEST_COALESCER_H_
