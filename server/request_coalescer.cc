#include "server/request_coalescer.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "proto/rpc_status.h"

namespace v2p::server {

namespace v1 = voxel2pixel::v1;

namespace {

void AddDuration(absl::Duration d, google::protobuf::Duration* out) {
  ToDurationProto(FromDurationProto(*out) + d, out);
}

}  // namespace

struct RequestCoalescer::Entry {
  enum class State { kOpen, kQueued, kSent, kAnswered };
  State state = State::kOpen;  // guarded by the coalescer's mu_
  Done done;
  // Set by Submit; valid until answered.
  const v1::ReconstructRequest* request = nullptr;
  const grpc::ServerContextBase* context = nullptr;
  Group* group = nullptr;  // while queued
  int samples = 0;
  absl::Time deadline;
  absl::Time enqueued;
  absl::Time sent;
  v1::ReconstructResponse response;  // a lone request's answer
};

struct RequestCoalescer::Batch {
  Group* group = nullptr;
  std::vector<Ticket> members;
  absl::Time deadline = absl::InfinitePast();
  v1::ReconstructRequest merged;
  v1::ReconstructResponse response;
};

RequestCoalescer::~RequestCoalescer() = default;

RequestCoalescer::Ticket RequestCoalescer::Open(Done done) {
  auto ticket = std::make_shared<Entry>();
  ticket->done = std::move(done);
  return ticket;
}

void RequestCoalescer::Submit(const Ticket& ticket, const grpc::ServerContextBase* context,
                              absl::Time deadline, const v1::ReconstructRequest& request) {
  const absl::Time now = absl::Now();
  const bool queues = Queues(request);
  std::unique_ptr<Batch> batch;
  {
    absl::MutexLock lock(&mu_);
    if (ticket->state != Entry::State::kOpen) return;  // withdrawn already
    ticket->request = &request;
    ticket->context = context;
    ticket->samples = request.samples_size();
    ticket->deadline = deadline;
    ticket->enqueued = now;
    if (!queues) {
      ticket->state = Entry::State::kSent;
      ticket->sent = now;
    } else {
      std::unique_ptr<Group>& g =
          groups_[Key{request.model(), request.model_version(), request.include_pixels(),
                      request.include_attention()}];
      if (g == nullptr) g = std::make_unique<Group>();
      ticket->group = g.get();
      ticket->state = Entry::State::kQueued;
      g->queue.push_back(ticket);
      if (g->in_flight < std::max(1, options_.max_calls())) {
        ++g->in_flight;
        batch = Take(g.get());
      }
    }
  }
  if (!queues) {
    SendAlone(ticket);
    return;
  }
  ReportQueued(request.samples_size());
  if (batch != nullptr) SendBatch(std::move(batch));
}

void RequestCoalescer::Withdraw(const Ticket& ticket, grpc::Status status) {
  int dequeued = 0;
  {
    absl::MutexLock lock(&mu_);
    switch (ticket->state) {
      case Entry::State::kOpen:
        break;
      case Entry::State::kQueued: {
        auto& q = ticket->group->queue;
        q.erase(std::find(q.begin(), q.end(), ticket));
        dequeued = ticket->samples;
        break;
      }
      case Entry::State::kSent:
      case Entry::State::kAnswered:
        return;
    }
    ticket->state = Entry::State::kAnswered;
  }
  ReportQueued(-dequeued);
  Done done = std::move(ticket->done);
  done(std::move(status), v1::ReconstructResponse());
}

std::unique_ptr<RequestCoalescer::Batch> RequestCoalescer::Take(Group* group) {
  auto batch = std::make_unique<Batch>();
  batch->group = group;
  const absl::Time now = absl::Now();
  int samples = 0;
  while (!group->queue.empty()) {
    const Ticket& next = group->queue.front();
    if (!batch->members.empty() && samples + next->samples > options_.max_batch_size) break;
    samples += next->samples;
    batch->deadline = std::max(batch->deadline, next->deadline);
    next->state = Entry::State::kSent;
    next->sent = now;
    next->group = nullptr;
    batch->members.push_back(next);
    group->queue.pop_front();
  }
  return batch;
}

void RequestCoalescer::SendBatch(std::unique_ptr<Batch> batch) {
  // The members' requests stay valid until they are answered, so they are
  // copied without the lock.
  v1::ReconstructRequest& merged = batch->merged;
  const v1::ReconstructRequest& first = *batch->members.front()->request;
  merged.set_model(first.model());
  merged.set_model_version(first.model_version());
  merged.set_include_pixels(first.include_pixels());
  merged.set_include_attention(first.include_attention());
  for (const Ticket& m : batch->members) {
    for (const v1::Sample& s : m->request->samples()) *merged.add_samples() = s;
  }
  ReportQueued(-merged.samples_size());
  if (options_.on_batch) options_.on_batch(merged.samples_size());
  Batch* raw = batch.release();  // owned by the call until it is answered
  send_(nullptr, &raw->merged, raw->deadline, &raw->response,
        [this, raw](grpc::Status status) { BatchAnswered(raw, std::move(status)); });
}

void RequestCoalescer::BatchAnswered(Batch* raw, grpc::Status status) {
  std::unique_ptr<Batch> batch(raw);
  if (status.ok() && batch->response.results_size() != batch->merged.samples_size()) {
    status = grpc::Status(grpc::StatusCode::INTERNAL,
                          absl::StrCat("worker answered ", batch->response.results_size(),
                                       " results for ", batch->merged.samples_size(), " samples"));
  }
  std::vector<v1::ReconstructResponse> answers(batch->members.size());
  if (status.ok()) {
    auto* results = batch->response.mutable_results();
    int offset = 0;
    for (size_t i = 0; i < batch->members.size(); ++i) {
      const Entry& m = *batch->members[i];
      const absl::Duration waited = m.sent - m.enqueued;
      for (int j = 0; j < m.samples; ++j) {
        v1::ReconstructionResult* r = answers[i].add_results();
        *r = std::move(*results->Mutable(offset + j));
        AddDuration(waited, r->mutable_timings()->mutable_queue());
        AddDuration(waited, r->mutable_timings()->mutable_total());
      }
      offset += m.samples;
    }
  }
  // The next batch goes before this one's members are answered, so the
  // worker is not left idle meanwhile.
  std::unique_ptr<Batch> next;
  {
    absl::MutexLock lock(&mu_);
    for (const Ticket& m : batch->members) m->state = Entry::State::kAnswered;
    Group* group = batch->group;
    if (!group->queue.empty() && group->in_flight <= std::max(1, options_.max_calls())) {
      next = Take(group);
    } else {
      --group->in_flight;
    }
  }
  if (next != nullptr) SendBatch(std::move(next));
  for (size_t i = 0; i < batch->members.size(); ++i) {
    Done done = std::move(batch->members[i]->done);
    done(status, std::move(answers[i]));
  }
}

void RequestCoalescer::SendAlone(const Ticket& ticket) {
  send_(ticket->context, ticket->request, ticket->deadline, &ticket->response,
        [this, ticket](grpc::Status status) {
          {
            absl::MutexLock lock(&mu_);
            ticket->state = Entry::State::kAnswered;
          }
          Done done = std::move(ticket->done);
          done(std::move(status), std::move(ticket->response));
        });
}

}  // namespace v2p::server
