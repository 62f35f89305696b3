#include "server/request_coalescer.h"

#include <algorithm>
#include <deque>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "proto/rpc_status.h"

namespace v2p::server {

namespace v1 = voxel2pixel::v1;

namespace {

// How often a waiting request looks at its caller's cancellation.
constexpr absl::Duration kCancellationPoll = absl::Milliseconds(50);

void AddDuration(absl::Duration d, google::protobuf::Duration* out) {
  ToDurationProto(FromDurationProto(*out) + d, out);
}

}  // namespace

struct RequestCoalescer::Entry {
  enum class State { kQueued, kSent, kDone };
  // Valid while kQueued: the caller does not return while its request is
  // queued without first removing it.
  const v1::ReconstructRequest* request = nullptr;
  int samples = 0;
  absl::Time deadline;
  absl::Time enqueued;
  absl::Time sent;
  State state = State::kQueued;
  bool promoted = false;  // told to become a sender
  grpc::Status status;
  v1::ReconstructResponse response;
};

RequestCoalescer::~RequestCoalescer() = default;

grpc::Status RequestCoalescer::Run(const grpc::ServerContext* context,
                                   absl::Time deadline,
                                   const v1::ReconstructRequest& request,
                                   v1::ReconstructResponse* response) {
  if (!Accepts(request)) return send_(request, deadline, response);
  auto mine = std::make_shared<Entry>();
  mine->request = &request;
  mine->samples = request.samples_size();
  mine->deadline = deadline;
  mine->enqueued = absl::Now();
  const Key key{request.model(), request.model_version(), request.include_pixels()};

  Group* group;
  bool sender;
  {
    absl::MutexLock lock(&mu_);
    std::unique_ptr<Group>& g = groups_[key];
    if (g == nullptr) g = std::make_unique<Group>();
    group = g.get();
    group->queue.push_back(mine);
    sender = group->senders < std::max(1, options_.max_calls());
    if (sender) ++group->senders;
  }
  for (;;) {
    if (sender) SendWhileNeeded(group, mine.get());
    sender = false;
    absl::MutexLock lock(&mu_);
    const auto answered_or_promoted = [&mine] {
      return mine->state == Entry::State::kDone || mine->promoted;
    };
    while (!answered_or_promoted()) {
      const absl::Time wake = std::min(deadline, absl::Now() + kCancellationPoll);
      if (mu_.AwaitWithDeadline(absl::Condition(&answered_or_promoted), wake)) break;
      const bool cancelled = context != nullptr && context->IsCancelled();
      if (absl::Now() < deadline && !cancelled) continue;
      if (mine->state == Entry::State::kQueued) {
        auto& q = group->queue;
        q.erase(std::find(q.begin(), q.end(), mine));
      }
      // A sent batch finishes without this caller; its result is dropped
      // with the entry, as the caller has gone.
      return cancelled ? grpc::Status(grpc::StatusCode::CANCELLED, "the caller cancelled")
                       : grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                      "deadline passed while waiting for a worker");
    }
    // A promotion is always taken up, even when this request is answered
    // already: the sender's place it carries must be given back or passed
    // on (SendWhileNeeded), or the group would lose a sender for good.
    if (mine->promoted) {
      mine->promoted = false;
      sender = true;
      continue;
    }
    break;  // answered
  }
  if (!mine->status.ok()) return mine->status;
  *response = std::move(mine->response);
  const absl::Duration waited = mine->sent - mine->enqueued;
  for (auto& r : *response->mutable_results()) {
    AddDuration(waited, r.mutable_timings()->mutable_queue());
    AddDuration(waited, r.mutable_timings()->mutable_total());
  }
  return grpc::Status::OK;
}

void RequestCoalescer::SendWhileNeeded(Group* group, Entry* mine) {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (mine->state == Entry::State::kDone || group->queue.empty()) {
        // Leave. Queued samples still need a sender: the oldest waiting
        // request not already promoted becomes one, in this sender's place.
        auto& q = group->queue;
        auto next = std::find_if(q.begin(), q.end(), [](const auto& e) { return !e->promoted; });
        if (next == q.end()) {
          --group->senders;
        } else {
          (*next)->promoted = true;
        }
        return;
      }
    }
    SendOne(group);
  }
}

void RequestCoalescer::SendOne(Group* group) {
  std::vector<std::shared_ptr<Entry>> batch;
  v1::ReconstructRequest merged;
  absl::Time deadline = absl::InfinitePast();
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = absl::Now();
    int samples = 0;
    while (!group->queue.empty()) {
      const std::shared_ptr<Entry>& next = group->queue.front();
      if (!batch.empty() && samples + next->samples > options_.max_batch_size) break;
      if (batch.empty()) {
        merged.set_model(next->request->model());
        merged.set_model_version(next->request->model_version());
        merged.set_include_pixels(next->request->include_pixels());
      }
      // Copied under the lock: once sent, the caller may give up and
      // free its request.
      for (const v1::Sample& s : next->request->samples()) *merged.add_samples() = s;
      samples += next->samples;
      deadline = std::max(deadline, next->deadline);
      next->state = Entry::State::kSent;
      next->sent = now;
      batch.push_back(next);
      group->queue.pop_front();
    }
  }
  if (batch.empty()) return;
  if (options_.on_batch) options_.on_batch(merged.samples_size());
  v1::ReconstructResponse response;
  grpc::Status status = send_(merged, deadline, &response);
  if (status.ok() && response.results_size() != merged.samples_size()) {
    status = grpc::Status(grpc::StatusCode::INTERNAL,
                          absl::StrCat("worker answered ", response.results_size(),
                                       " results for ", merged.samples_size(), " samples"));
  }
  absl::MutexLock lock(&mu_);
  int offset = 0;
  for (const auto& e : batch) {
    e->status = status;
    if (status.ok()) {
      auto* results = response.mutable_results();
      for (int i = 0; i < e->samples; ++i) {
        *e->response.add_results() = std::move(*results->Mutable(offset + i));
      }
    }
    offset += e->samples;
    e->state = Entry::State::kDone;
  }
}

}  // namespace v2p::server
