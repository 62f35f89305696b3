#include "server/dispatcher.h"

#include <thread>

#include "absl/time/clock.h"
#include "proto/rpc_status.h"

namespace v2p::server {

// One RunAsync call: its tries and what they need until `done`.
struct Dispatcher::Attempts {
  // Declared first, so destroyed last: the dispatcher counts the call in
  // flight until its worker handle and client contexts are released. gRPC
  // 1.51 runs callbacks on the threads of a shared completion queue that it
  // tears down when the last channel using it goes, and that must not
  // happen on one of those threads (grpc/grpc#32584). With this, a callback
  // never drops the last reference to a worker's channel: the pool, which
  // outlives the dispatcher, does.
  struct Counted {
    explicit Counted(const Dispatcher* d) : dispatcher(d) { dispatcher->AsyncStarted(); }
    ~Counted() { dispatcher->AsyncEnded(); }
    const Dispatcher* dispatcher;
  } counted;

  explicit Attempts(const Dispatcher* d) : counted(d) {}

  const grpc::ServerContextBase* context;
  absl::Time deadline;
  AsyncCall call;
  std::string model;
  std::function<void(grpc::Status)> done;

  int tries = 0;
  grpc::Status status;  // of the last try
  std::shared_ptr<WorkerHandle> worker;
  std::shared_ptr<WorkerHandle> failed;  // the first try's, when it failed
  // One per try: a call's context outlives its completion callback.
  std::unique_ptr<grpc::ClientContext> contexts[2];
};

Dispatcher::~Dispatcher() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* n) { return *n == 0; }, &async_in_flight_));
}

absl::Time Dispatcher::DeadlineFor(const grpc::ServerContextBase* context) const {
  absl::Time deadline = absl::Now() + options_.default_deadline;
  if (context != nullptr) {
    const absl::Time caller = absl::FromChrono(context->deadline());
    if (caller < deadline) deadline = caller;
  }
  return deadline;
}

namespace {

std::unique_ptr<grpc::ClientContext> ClientContextFor(const grpc::ServerContextBase* context,
                                                      absl::Time deadline) {
  if (context != nullptr) return grpc::ClientContext::FromServerContext(*context);
  auto client = std::make_unique<grpc::ClientContext>();
  client->set_deadline(absl::ToChronoTime(deadline));
  return client;
}

// Whether a call that ended with `status` is tried again, on another
// worker: only once, only when its worker was unavailable (died before
// answering), and not when its caller has gone.
bool Retried(const grpc::Status& status, int tries, const grpc::ServerContextBase* context) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE && tries == 0 &&
         !(context != nullptr && context->IsCancelled());
}

}  // namespace

grpc::Status Dispatcher::Run(const grpc::ServerContextBase* context, const Call& call,
                             const std::string& model) const {
  const absl::Time deadline = DeadlineFor(context);
  grpc::Status status;
  std::shared_ptr<WorkerHandle> failed;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto worker = pool_->Acquire(deadline, failed.get(), model);
    if (!worker.ok()) {
      return attempt == 0 ? ToGrpcStatus(worker.status()) : status;
    }
    std::unique_ptr<grpc::ClientContext> client = ClientContextFor(context, deadline);
    ++(*worker)->outstanding;
    status = call(*(*worker)->stub, *client);
    --(*worker)->outstanding;
    if (status.ok() && !model.empty()) (*worker)->NoteHolds(model);
    if (!Retried(status, attempt, context)) return status;
    failed = *worker;
  }
  return status;
}

void Dispatcher::RunAsync(const grpc::ServerContextBase* context, absl::Time deadline,
                          AsyncCall call, std::string model,
                          std::function<void(grpc::Status)> done) const {
  auto a = std::make_shared<Attempts>(this);
  a->context = context;
  a->deadline = deadline;
  a->call = std::move(call);
  a->model = std::move(model);
  a->done = std::move(done);
  Try(std::move(a));
}

void Dispatcher::Try(std::shared_ptr<Attempts> a) const {
  if (auto worker = pool_->TryAcquire(a->failed.get(), a->model)) {
    Issue(std::move(a), std::move(worker));
    return;
  }
  // None ready (or only the one that just failed): wait as Run does, but
  // not on a gRPC thread. Rare: a worker is starting or restarting.
  std::thread([this, a] {
    auto worker = pool_->Acquire(a->deadline, a->failed.get(), a->model);
    if (worker.ok()) {
      Issue(a, *std::move(worker));
    } else {
      Answered(a, a->tries == 0 ? ToGrpcStatus(worker.status()) : a->status);
    }
  }).detach();
}

void Dispatcher::Issue(std::shared_ptr<Attempts> a, std::shared_ptr<WorkerHandle> worker) const {
  std::unique_ptr<grpc::ClientContext>& client = a->contexts[a->tries];
  client = ClientContextFor(a->context, a->deadline);
  ++worker->outstanding;
  a->worker = std::move(worker);
  grpc::ClientContext* raw = client.get();
  Stub& stub = *a->worker->stub;
  a->call(stub, raw, [this, a](grpc::Status status) {
    --a->worker->outstanding;
    if (status.ok() && !a->model.empty()) a->worker->NoteHolds(a->model);
    if (!Retried(status, a->tries, a->context)) {
      Answered(a, std::move(status));
      return;
    }
    a->status = std::move(status);
    a->failed = a->worker;
    ++a->tries;
    Try(a);
  });
}

void Dispatcher::Answered(std::shared_ptr<Attempts> a, grpc::Status status) const {
  std::function<void(grpc::Status)> done = std::move(a->done);
  done(std::move(status));
}

void Dispatcher::AsyncStarted() const {
  absl::MutexLock lock(&mu_);
  ++async_in_flight_;
}

void Dispatcher::AsyncEnded() const {
  absl::MutexLock lock(&mu_);
  --async_in_flight_;
}

}  // namespace v2p::server
