#include "server/reconstruction_service.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "proto/client_text.h"
#include "proto/rpc_status.h"
#include "server/validation.h"

namespace v2p::server {

namespace v1 = voxel2pixel::v1;

// Draws per sample one request may ask for (each is a generator pass).
constexpr int kMaxSamplesPerRequest = 64;
constexpr int kMaxRefineIterations = 10000;

ReconstructionService::ReconstructionService(const Dispatcher* dispatcher, ModelCatalog* catalog,
                                             prometheus::Gauge* streams_in_flight,
                                             RequestCoalescer::Options coalescing,
                                             int stream_window)
    : dispatcher_(dispatcher),
      catalog_(catalog),
      streams_in_flight_(streams_in_flight),
      coalescer_(
          std::move(coalescing),
          [dispatcher](const grpc::ServerContextBase* context,
                       const v1::ReconstructRequest* request, absl::Time deadline,
                       v1::ReconstructResponse* response, std::function<void(grpc::Status)> done) {
            dispatcher->RunAsync(
                context, deadline,
                [request, response](Dispatcher::Stub& stub, grpc::ClientContext* ctx,
                                    std::function<void(grpc::Status)> cb) {
                  response->Clear();
                  stub.async()->Reconstruct(ctx, request, response, std::move(cb));
                },
                request->model(), std::move(done));
          }),
      stream_window_(std::max(1, stream_window)) {}

absl::Status ReconstructionService::ValidateRequest(const v1::ReconstructRequest& request,
                                                    bool with_progress) {
  if (absl::Status s = ValidateModelRef(request.model(), request.model_version()); !s.ok())
    return s;
  if (absl::Status s = ValidateNotEmpty(request); !s.ok()) return s;
  if (request.num_samples() < 0 || request.num_samples() > kMaxSamplesPerRequest)
    return absl::InvalidArgumentError(absl::StrCat("num_samples is ", request.num_samples(),
                                                   "; ask for 0 (no draws) to ",
                                                   kMaxSamplesPerRequest, " draws per sample"));
  if (request.refine_iterations() < 0 || request.refine_iterations() > kMaxRefineIterations)
    return absl::InvalidArgumentError(absl::StrCat("refine_iterations is ",
                                                   request.refine_iterations(), "; ask for 0 (the ",
                                                   "model's own) to ", kMaxRefineIterations));
  if (!with_progress && request.progress_every() != 0)
    return absl::InvalidArgumentError(
        absl::StrCat("progress_every is ", request.progress_every(),
                     "; progress is sent only by ReconstructWithProgress: leave it 0 here"));
  if (with_progress &&
      (request.progress_every() < 1 || request.progress_every() > kMaxRefineIterations))
    return absl::InvalidArgumentError(absl::StrCat("progress_every is ", request.progress_every(),
                                                   "; ask for a message every 1 to ",
                                                   kMaxRefineIterations, " iterations"));
  return absl::OkStatus();
}

absl::Status ReconstructionService::ValidateSamples(const v1::ReconstructRequest& request,
                                                    const v1::Model& model) {
  for (int i = 0; i < request.samples_size(); ++i) {
    if (absl::Status s = ValidateSample(request.samples(i), i, model); !s.ok()) return s;
  }
  return absl::OkStatus();
}

void ReconstructionService::ValidateAsync(const grpc::ServerContextBase* context,
                                          const v1::ReconstructRequest& request,
                                          std::function<void(absl::Status)> done,
                                          bool with_progress) {
  if (absl::Status s = ValidateRequest(request, with_progress); !s.ok()) {
    done(std::move(s));
    return;
  }
  catalog_->LookupAsync(
      context, request.model(), request.model_version(),
      [&request, done = std::move(done)](absl::StatusOr<ModelCatalog::Model> model) {
        absl::Status s = model.status();
        if (s.ok()) s = ValidateSamples(request, **model);
        done(std::move(s));
      });
}

// One unary Reconstruct: answered through its coalescer ticket, whichever
// comes first of the worker's answer, a validation error, or the caller
// giving up while the request is queued. The answer is held back while the
// request is still being read (Hold/Release around the model lookup):
// gRPC frees the request once the call is finished.
class ReconstructionService::UnaryCall final : public grpc::ServerUnaryReactor {
 public:
  UnaryCall(RequestCoalescer* coalescer, grpc::CallbackServerContext* context,
            v1::ReconstructResponse* response)
      : coalescer_(coalescer), context_(context) {
    ticket_ = coalescer_->Open([this, response](grpc::Status status, v1::ReconstructResponse r) {
      if (status.ok()) *response = std::move(r);
      {
        absl::MutexLock lock(&mu_);
        if (holds_ > 0) {
          held_ = std::move(status);
          return;
        }
      }
      Finish(status);
    });
  }
  const RequestCoalescer::Ticket& ticket() const { return ticket_; }
  // The caller's places for this call's samples, given back when it is done.
  void Keep(std::unique_ptr<CallerLimits::Place> place) { place_ = std::move(place); }

  void Hold() {
    absl::MutexLock lock(&mu_);
    ++holds_;
  }
  void Release() {
    std::optional<grpc::Status> held;
    {
      absl::MutexLock lock(&mu_);
      if (--holds_ > 0) return;
      held.swap(held_);
    }
    if (held) Finish(*held);
  }

  void OnCancel() override {
    const bool expired = std::chrono::system_clock::now() >= context_->deadline();
    coalescer_->Withdraw(
        ticket_, expired ? grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                        "deadline passed while waiting for a worker")
                         : grpc::Status(grpc::StatusCode::CANCELLED, "the caller cancelled"));
  }
  void OnDone() override { delete this; }

 private:
  RequestCoalescer* const coalescer_;
  grpc::CallbackServerContext* const context_;
  RequestCoalescer::Ticket ticket_;
  std::unique_ptr<CallerLimits::Place> place_;
  absl::Mutex mu_;
  int holds_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<grpc::Status> held_ ABSL_GUARDED_BY(mu_);
};

grpc::ServerUnaryReactor* ReconstructionService::Reconstruct(grpc::CallbackServerContext* context,
                                                             const v1::ReconstructRequest* request,
                                                             v1::ReconstructResponse* response) {
  auto refuse = [context](const absl::Status& s) {
    grpc::ServerUnaryReactor* refused = context->DefaultReactor();
    refused->Finish(ToGrpcStatus(s));
    return refused;
  };
  auto caller = Identify(auth_, context);
  if (!caller.ok()) return refuse(caller.status());
  std::unique_ptr<CallerLimits::Place> place;
  if (limits_ != nullptr) {
    auto taken = limits_->Take(CallerLimits::kSample, *caller, context, request->samples_size());
    if (!taken.ok()) return refuse(taken.status());
    place = *std::move(taken);
  }
  auto* call = new UnaryCall(&coalescer_, context, response);
  call->Keep(std::move(place));
  call->Hold();
  ValidateAsync(context, *request, [this, call, context, request](absl::Status s) {
    if (s.ok()) {
      coalescer_.Submit(call->ticket(), context, dispatcher_->DeadlineFor(context), *request);
    } else {
      coalescer_.Withdraw(call->ticket(), ToGrpcStatus(s));
    }
    call->Release();
  });
  return call;
}

// One StreamReconstruct. Each message read is validated (its model looked
// up, without blocking) and submitted to the coalescer; the next is read
// while fewer than `stream_window` samples are in flight. Results are
// written one at a time in the order sent. The first error (a bad message,
// a failed sample, a write the client no longer takes, its cancellation)
// stops the reading; queued samples are withdrawn, and the call finishes
// with that error once every sample in flight has been answered, so nothing
// refers to the stream's samples when gRPC frees it.
//
// State changes under mu_ and decides what to start (Plan); the starting is
// done without it (Act), as gRPC may run a reaction on the calling thread.
// A thread that is not running a reaction (a ticket's answer, a model
// lookup) changes state and plans in one critical section and touches the
// call afterwards only to start what it planned, and the call does not
// finish while a lookup is pending (`lookups_`): so the call is not
// deleted under anyone.
class ReconstructionService::StreamCall final
    : public grpc::ServerBidiReactor<v1::StreamReconstructRequest, v1::StreamReconstructResponse> {
 public:
  StreamCall(ReconstructionService* service, grpc::CallbackServerContext* context,
             std::unique_ptr<CallerLimits::Place> place)
      : service_(service), context_(context), place_(std::move(place)) {
    if (service_->streams_in_flight_ != nullptr) service_->streams_in_flight_->Increment();
    {
      absl::MutexLock lock(&mu_);
      reading_ = true;
    }
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    auto sample = std::make_shared<Sample>();
    Actions stop;
    bool stopped = false;
    {
      absl::MutexLock lock(&mu_);
      reading_ = false;
      if (!ok || !error_.ok()) {  // the client's last message was read, or the stream failed
        read_all_ = true;
        stopped = true;
      } else {
        sample->n = read_++;
        if (sample->n == 0) {
          model_ = in_.model();
          version_ = in_.model_version();
        } else if ((!in_.model().empty() && in_.model() != model_) ||
                   (in_.model_version() != 0 && in_.model_version() != version_)) {
          Fail(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            absl::StrCat("stream message ", sample->n, " names model ",
                                         ClientText(in_.model()), " v", in_.model_version(),
                                         "; this stream serves ", model_, " v", version_)),
               /*keep_earlier=*/true);
          stopped = true;
        }
      }
      if (stopped) {
        stop = Plan();
      } else {
        ++lookups_;  // no further read until this message is submitted
      }
    }
    if (stopped) {
      Act(std::move(stop));
      return;
    }
    v1::ReconstructRequest& request = sample->request;
    request.set_model(model_);
    request.set_model_version(version_);
    request.set_include_pixels(in_.include_pixels());
    request.set_include_attention(in_.include_attention());
    request.set_num_samples(in_.num_samples());
    request.set_sample_seed(in_.sample_seed());
    *request.add_samples() = std::move(*in_.mutable_sample());
    service_->ValidateAsync(context_, request,
                            [this, sample](const absl::Status& s) { Looked(sample, s); });
  }

  void OnWriteDone(bool ok) override {
    Actions a;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) Fail(grpc::Status(grpc::StatusCode::CANCELLED, "client closed the stream"));
      a = Plan();
    }
    Act(std::move(a));
  }

  void OnCancel() override {
    Actions a;
    {
      absl::MutexLock lock(&mu_);
      Fail(grpc::Status(grpc::StatusCode::CANCELLED, "the caller cancelled"));
      a = Plan();
    }
    Act(std::move(a));
  }

  void OnDone() override {
    if (service_->streams_in_flight_ != nullptr) service_->streams_in_flight_->Decrement();
    delete this;
  }

 private:
  struct Sample {
    int64_t n = 0;
    v1::ReconstructRequest request;  // read by its ticket until answered
    RequestCoalescer::Ticket ticket;
    // Guarded by the call's mu_.
    bool answered = false;
    grpc::Status status;
    v1::ReconstructResponse response;
  };
  // What Plan decided to start.
  struct Actions {
    std::vector<RequestCoalescer::Ticket> withdraw;
    bool write = false;
    bool read = false;
    bool finish = false;
    grpc::Status status;
  };

  // The lookup for `sample` (which holds one of `lookups_`) has ended with
  // `s`: submit the sample, or fail the stream.
  void Looked(const std::shared_ptr<Sample>& sample, const absl::Status& s) {
    Actions a;
    {
      absl::MutexLock lock(&mu_);
      if (!s.ok()) {
        Fail(grpc::Status(static_cast<grpc::StatusCode>(s.code()),
                          absl::StrCat("stream message ", sample->n, ": ", s.message())),
             /*keep_earlier=*/true);
      }
      if (!error_.ok()) {  // failed, now or meanwhile: not sent
        --lookups_;
        a = Plan();
      } else {
        sample->ticket = service_->coalescer_.Open(
            [this, raw = sample.get()](grpc::Status status, v1::ReconstructResponse response) {
              Actions next;
              {
                absl::MutexLock lock(&mu_);
                raw->status = std::move(status);
                raw->response = std::move(response);
                raw->answered = true;
                next = Plan();
              }
              Act(std::move(next));
            });
        window_.push_back(sample);
      }
    }
    if (sample->ticket == nullptr) {
      Act(std::move(a));
      return;
    }
    // Still counted in lookups_: the call cannot finish during Submit, even
    // if the sample is answered at once.
    service_->coalescer_.Submit(sample->ticket, context_,
                                service_->dispatcher_->DeadlineFor(context_), sample->request);
    {
      absl::MutexLock lock(&mu_);
      --lookups_;
      a = Plan();
    }
    Act(std::move(a));
  }

  // Ends the stream with `status` and stops reading. A message that fails
  // validation (`keep_earlier`) leaves the samples before it, accepted
  // already, to be answered first; any other failure drops what is in
  // flight and marks what is still queued to be withdrawn.
  void Fail(grpc::Status status, bool keep_earlier = false) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!error_.ok() && (!keep_error_ || keep_earlier)) return;
    error_ = std::move(status);
    keep_error_ = keep_earlier;
    if (keep_earlier) return;
    for (const auto& s : window_) {
      if (!s->answered) to_withdraw_.push_back(s->ticket);
    }
  }

  // Decides what can start now: withdrawals, a write of the oldest
  // answered result, the next read, or the end of the call.
  Actions Plan() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Actions a;
    while (!writing_ && !window_.empty() && window_.front()->answered) {
      std::shared_ptr<Sample> done = std::move(window_.front());
      window_.pop_front();
      if (!error_.ok() && !keep_error_) continue;  // the stream failed: dropped with it
      if (!done->status.ok()) {
        Fail(grpc::Status(done->status.error_code(), absl::StrCat("stream message ", done->n, ": ",
                                                                  done->status.error_message())));
        continue;
      }
      out_.Clear();
      *out_.mutable_result() = std::move(*done->response.mutable_results(0));
      writing_ = true;
      a.write = true;
    }
    a.withdraw.swap(to_withdraw_);
    const bool stopped = read_all_ || !error_.ok();
    if (!stopped && !reading_ && lookups_ == 0 &&
        window_.size() < static_cast<size_t>(service_->stream_window_)) {
      reading_ = true;
      a.read = true;
    }
    if (stopped && !finished_ && lookups_ == 0 && window_.empty() && !writing_ &&
        a.withdraw.empty()) {
      finished_ = true;
      a.finish = true;
      a.status = error_;
    }
    return a;
  }

  // Starts what Plan decided, without mu_. Touches the call only for that.
  void Act(Actions a) ABSL_LOCKS_EXCLUDED(mu_) {
    for (const auto& t : a.withdraw) {
      // Answers the ticket, whose callback plans again.
      service_->coalescer_.Withdraw(t,
                                    grpc::Status(grpc::StatusCode::CANCELLED,
                                                 "the stream ended before this sample was sent"));
    }
    if (a.write) StartWrite(&out_);
    if (a.read) StartRead(&in_);
    if (a.finish) Finish(a.status);
  }

  ReconstructionService* const service_;
  grpc::CallbackServerContext* const context_;
  // This caller's place among its streams (null: no ceiling); freed with the call.
  const std::unique_ptr<CallerLimits::Place> place_;
  absl::Mutex mu_;
  // The read in progress, and what the first message set: touched only by
  // the reading, which is one message at a time.
  v1::StreamReconstructRequest in_;
  std::string model_;
  int64_t version_ = 0;
  v1::StreamReconstructResponse out_;  // the write in progress
  int64_t read_ ABSL_GUARDED_BY(mu_) = 0;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool read_all_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  int lookups_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<std::shared_ptr<Sample>> window_ ABSL_GUARDED_BY(mu_);
  std::vector<RequestCoalescer::Ticket> to_withdraw_ ABSL_GUARDED_BY(mu_);
  grpc::Status error_ ABSL_GUARDED_BY(mu_);
  bool keep_error_ ABSL_GUARDED_BY(mu_) = false;  // error_ is a message's: answer earlier ones
};

// A stream refused before it starts (no token, or one without the role).
class RefusedStream final
    : public grpc::ServerBidiReactor<v1::StreamReconstructRequest, v1::StreamReconstructResponse> {
 public:
  explicit RefusedStream(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

// A progress call refused before it starts.
class RefusedWrite final : public grpc::ServerWriteReactor<v1::ReconstructProgress> {
 public:
  explicit RefusedWrite(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

grpc::ServerBidiReactor<v1::StreamReconstructRequest, v1::StreamReconstructResponse>*
ReconstructionService::StreamReconstruct(grpc::CallbackServerContext* context) {
  auto caller = Identify(auth_, context);
  if (!caller.ok()) return new RefusedStream(ToGrpcStatus(caller.status()));
  std::unique_ptr<CallerLimits::Place> place;
  if (limits_ != nullptr) {
    auto taken = limits_->Take(CallerLimits::kStream, *caller, context);
    if (!taken.ok()) return new RefusedStream(ToGrpcStatus(taken.status()));
    place = *std::move(taken);
  }
  return new StreamCall(this, context, std::move(place));
}

// One ReconstructWithProgress (see the header). A Relay reads the worker's
// stream; each message it reads is written to the caller, and the next read
// starts when that write is done. The Relay holds its call open (AddHold)
// until its last read, since reads start from the caller's write reactions,
// outside its own. A retry (the dispatcher's, when the worker died) relays
// from a new Relay. The call finishes once the last Relay is done, so no
// write is in flight then.
class ReconstructionService::ProgressCall final
    : public grpc::ServerWriteReactor<v1::ReconstructProgress> {
 public:
  ProgressCall(ReconstructionService* service, grpc::CallbackServerContext* context,
               const v1::ReconstructRequest* request, std::unique_ptr<CallerLimits::Place> place)
      : service_(service), context_(context), request_(request), place_(std::move(place)) {}

  void Begin() {
    service_->ValidateAsync(
        context_, *request_,
        [this](const absl::Status& s) {
          if (!s.ok()) {
            Finish(ToGrpcStatus(s));
            return;
          }
          const Dispatcher* dispatcher = service_->dispatcher_;
          dispatcher->RunAsync(
              context_, dispatcher->DeadlineFor(context_),
              [this](Dispatcher::Stub& stub, grpc::ClientContext* client,
                     std::function<void(grpc::Status)> done) {
                auto* relay = new Relay(this, client, std::move(done));
                stub.async()->ReconstructWithProgress(client, request_, relay);
                relay->Begin();
              },
              request_->model(), [this](grpc::Status status) { Finish(status); });
        },
        /*with_progress=*/true);
  }

  void OnWriteDone(bool ok) override { writer_->Written(ok); }
  void OnDone() override { delete this; }

 private:
  class Relay final : public grpc::ClientReadReactor<v1::ReconstructProgress> {
   public:
    Relay(ProgressCall* call, grpc::ClientContext* client, std::function<void(grpc::Status)> done)
        : call_(call), client_(client), done_(std::move(done)) {}
    void Begin() {
      AddHold();
      StartRead(&in_);
      StartCall();
    }
    void OnReadDone(bool ok) override {
      if (!ok) {
        RemoveHold();
        return;
      }
      call_->writer_ = this;
      call_->StartWrite(&in_);
    }
    // The caller has taken the message (or is gone: then the worker's call
    // is cancelled and the read fails).
    void Written(bool ok) {
      if (!ok) client_->TryCancel();
      StartRead(&in_);
    }
    void OnDone(const grpc::Status& status) override {
      std::function<void(grpc::Status)> done = std::move(done_);
      delete this;
      done(status);
    }

   private:
    ProgressCall* const call_;
    grpc::ClientContext* const client_;
    std::function<void(grpc::Status)> done_;
    v1::ReconstructProgress in_;  // read, then written from here
  };

  ReconstructionService* const service_;
  grpc::CallbackServerContext* const context_;
  const v1::ReconstructRequest* const request_;
  const std::unique_ptr<CallerLimits::Place> place_;
  Relay* writer_ = nullptr;  // whose message is being written
};

grpc::ServerWriteReactor<v1::ReconstructProgress>* ReconstructionService::ReconstructWithProgress(
    grpc::CallbackServerContext* context, const v1::ReconstructRequest* request) {
  auto caller = Identify(auth_, context);
  if (!caller.ok()) return new RefusedWrite(ToGrpcStatus(caller.status()));
  std::unique_ptr<CallerLimits::Place> place;
  if (limits_ != nullptr) {
    auto taken = limits_->Take(CallerLimits::kSample, *caller, context, request->samples_size());
    if (!taken.ok()) return new RefusedWrite(ToGrpcStatus(taken.status()));
    place = *std::move(taken);
  }
  auto* call = new ProgressCall(this, context, request, std::move(place));
  call->Begin();
  return call;
}

}  // namespace v2p::server
