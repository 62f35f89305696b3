#include "client/load_command.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "client/output_files.h"
#include "client/rpc_helpers.h"
#include "core/base/status_macros.h"
#include "core/base/stopwatch.h"
#include "core/data/matrix_file.h"
#include "voxel2pixel/v1/models_service.grpc.pb.h"
#include "voxel2pixel/v1/reconstruction_service.grpc.pb.h"

namespace v2p::client {
namespace {

namespace v1 = voxel2pixel::v1;

std::string CodeName(grpc::StatusCode c) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(c));
}

absl::StatusOr<std::vector<v1::Sample>> MakeSamples(const LoadOptions& o, int voxels) {
  std::vector<v1::Sample> samples;
  if (!o.betas.empty()) {
    ASSIGN_OR_RETURN(auto mat, core::OpenMatrixFile(o.betas, {o.mask}));
    ASSIGN_OR_RETURN(const Eigen::MatrixXd b, mat->ReadMatrix(o.var));
    for (Eigen::Index i = 0; i < b.rows(); ++i) {
      v1::Sample s;
      for (Eigen::Index v = 0; v < b.cols(); ++v) s.add_betas(static_cast<float>(b(i, v)));
      samples.push_back(std::move(s));
    }
  } else {
    std::mt19937 rng(1);
    std::normal_distribution<float> normal;
    for (int i = 0; i < 16; ++i) {
      v1::Sample s;
      for (int v = 0; v < voxels; ++v) s.add_betas(normal(rng));
      samples.push_back(std::move(s));
    }
  }
  if (samples.empty()) return absl::InvalidArgumentError("no samples to send");
  return samples;
}

struct Shared {
  std::mutex mu;
  std::vector<absl::Duration> latencies;
  std::map<std::string, int64_t> errors;
  std::map<std::string, std::string> first_error;
  std::atomic<int64_t> sent{0}, received{0};
  std::atomic<int64_t>* received_so_far = nullptr;  // LoadOptions', may be null

  void Received(int64_t n) {
    received += n;
    if (received_so_far != nullptr) *received_so_far += n;
  }
};

// Counts `n` errors of `s`'s code, keeping the first message of each code.
void CountError(const grpc::Status& s, int64_t n, Shared* out) {
  const std::string code = CodeName(s.error_code());
  std::lock_guard<std::mutex> lock(out->mu);
  out->errors[code] += n;
  out->first_error.emplace(code, s.error_message());
}

// The request a unary client sends as its `n`th: samples_per_request of the
// shipped samples, cycled, each with an id naming client, request and slot.
void FillRequest(const LoadOptions& o, const std::vector<v1::Sample>& samples, int id, int64_t n,
                 v1::ReconstructRequest* req) {
  req->Clear();
  req->set_model(o.model);
  for (int i = 0; i < o.samples_per_request; ++i) {
    v1::Sample* s = req->add_samples();
    *s = samples[(id + n * o.samples_per_request + i) % samples.size()];
    s->set_id(absl::StrCat(id, "-", n, "-", i));
  }
}

// One unary client: a closed loop on its own channel, one request
// outstanding at a time. It runs on gRPC's callback API: the callback of
// each answer, on gRPC's own threads, records it and sends the next request,
// so no thread of ours wakes per call. (The blocking API costs a thread
// hand-off per call, CPU that a server sharing the machine with its load
// clients loses.) Only when callbacks would nest, as when every call fails
// at once, does Run's thread send the next request instead.
class UnaryLoop {
 public:
  UnaryLoop(v1::Reconstruction::Stub& stub, const LoadOptions& o,
            const std::vector<v1::Sample>& samples, int id, absl::Time until, Shared* out)
      : stub_(stub), o_(o), samples_(samples), id_(id), until_(until), out_(out) {}

  // Sends until the duration is up; returns once the last answer is in.
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!done_) {
      resume_ = false;
      lock.unlock();
      Send();
      lock.lock();
      cv_.wait(lock, [&] { return done_ || resume_; });
    }
    lock.unlock();
    std::lock_guard<std::mutex> shared(out_->mu);
    out_->latencies.insert(out_->latencies.end(), mine_.begin(), mine_.end());
  }

 private:
  void Send() {
    if (absl::Now() >= until_) {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
      cv_.notify_one();
      return;
    }
    FillRequest(o_, samples_, id_, n_++, &req_);
    resp_.Clear();
    ctx_ = std::make_unique<grpc::ClientContext>();
    ctx_->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    out_->sent += o_.samples_per_request;
    watch_ = core::Stopwatch();
    stub_.async()->Reconstruct(ctx_.get(), &req_, &resp_, [this](grpc::Status s) { Answered(s); });
  }

  void Answered(const grpc::Status& s) {
    if (s.ok()) {
      mine_.push_back(watch_.Elapsed());
      out_->Received(resp_.results_size());
    } else {
      // Every sample of a failed request counts as an error of its code.
      CountError(s, o_.samples_per_request, out_);
    }
    thread_local int depth = 0;
    if (depth < 4) {
      ++depth;
      Send();
      --depth;
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    resume_ = true;
    cv_.notify_one();
  }

  v1::Reconstruction::Stub& stub_;
  const LoadOptions& o_;
  const std::vector<v1::Sample>& samples_;
  const int id_;
  const absl::Time until_;
  Shared* const out_;
  // The call in flight; touched by one thread at a time, in turn.
  int64_t n_ = 0;
  v1::ReconstructRequest req_;
  v1::ReconstructResponse resp_;
  std::unique_ptr<grpc::ClientContext> ctx_;
  core::Stopwatch watch_;
  std::vector<absl::Duration> mine_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;    // the duration is up and no call is in flight
  bool resume_ = false;  // Run's thread is to send the next request
};

void StreamClient(v1::Reconstruction::Stub& stub, const LoadOptions& o,
                  const std::vector<v1::Sample>& samples, int id, absl::Time until, Shared* out) {
  grpc::ClientContext ctx;
  auto stream = stub.StreamReconstruct(&ctx);
  std::mutex mu;
  std::condition_variable room;
  std::vector<std::chrono::steady_clock::time_point> sent_at;
  size_t answered = 0;
  std::thread writer([&] {
    for (int64_t n = 0; absl::Now() < until; ++n) {
      {
        // A client keeps a window of samples in flight, as a scanner feed
        // would; without it the latency measures transport buffering.
        std::unique_lock<std::mutex> lock(mu);
        room.wait(lock, [&] { return sent_at.size() - answered < static_cast<size_t>(o.window); });
      }
      v1::StreamReconstructRequest req;
      if (n == 0) req.set_model(o.model);
      *req.mutable_sample() = samples[(id + n) % samples.size()];
      req.mutable_sample()->set_id(absl::StrCat(id, "-", n));
      {
        std::lock_guard<std::mutex> lock(mu);
        sent_at.push_back(std::chrono::steady_clock::now());
      }
      if (!stream->Write(req)) break;  // blocks under flow control: backpressure
      ++out->sent;
    }
    stream->WritesDone();
  });
  std::vector<absl::Duration> mine;
  v1::StreamReconstructResponse resp;
  size_t n = 0;
  while (stream->Read(&resp)) {
    std::chrono::steady_clock::time_point t;
    {
      std::lock_guard<std::mutex> lock(mu);
      t = sent_at[n++];
      answered = n;
    }
    room.notify_one();
    mine.push_back(absl::FromChrono(std::chrono::steady_clock::now() - t));
    out->Received(1);
  }
  writer.join();
  const grpc::Status s = stream->Finish();
  if (!s.ok()) CountError(s, 1, out);
  std::lock_guard<std::mutex> lock(out->mu);
  out->latencies.insert(out->latencies.end(), mine.begin(), mine.end());
}

}  // namespace

absl::StatusOr<LoadReport> RunLoad(const LoadOptions& o) {
  auto channel = Connect(o.server);
  auto models = v1::Models::NewStub(channel);
  v1::GetModelRequest get;
  get.set_name(o.model);
  v1::Model model;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  const grpc::Status s = models->GetModel(&ctx, get, &model);
  if (!s.ok())
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
  ASSIGN_OR_RETURN(const std::vector<v1::Sample> samples, MakeSamples(o, model.num_voxels()));

  // One channel per client: separate HTTP/2 connections, as separate labs.
  Shared shared;
  shared.received_so_far = o.received_so_far;
  std::vector<std::thread> threads;
  const absl::Time start = absl::Now(), until = start + absl::Seconds(o.duration_s);
  for (int c = 0; c < o.clients; ++c) {
    threads.emplace_back([&, c] {
      grpc::ChannelArguments args;
      args.SetInt("grpc.channel_id", c);  // distinct subchannels
      auto stub = v1::Reconstruction::NewStub(Connect(o.server, args));
      if (o.stream) {
        StreamClient(*stub, o, samples, c, until, &shared);
      } else {
        UnaryLoop(*stub, o, samples, c, until, &shared).Run();
      }
    });
  }
  for (auto& t : threads) t.join();
  LoadReport r;
  r.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  r.sent = shared.sent;
  r.received = shared.received;
  r.errors = shared.errors;
  r.first_error = shared.first_error;
  const Percentiles p = Summarize(shared.latencies);
  r.p50_ms = p.median_ms;
  r.p90_ms = p.p90_ms;
  r.p99_ms = p.p99_ms;
  return r;
}

std::string FormatLoadReport(const LoadOptions& o, const LoadReport& r) {
  std::string errors;
  for (const auto& [code, n] : r.errors) absl::StrAppend(&errors, " ", code, "=", n);
  for (const auto& [code, message] : r.first_error)
    absl::StrAppend(&errors, "\n    first ", code, ": ", message);
  return absl::StrFormat(
      "v2p bench: %d %s clients%s for %.1f s against %s (model %s)\n"
      "  samples sent %d, results received %d%s\n"
      "  throughput %.1f samples/s\n"
      "  latency p50 %.3f ms, p90 %.3f ms, p99 %.3f ms\n"
      "  errors%s:%s\n",
      o.clients, o.stream ? "streaming" : "unary",
      o.stream ? absl::StrCat(", ", o.window, " sample(s) in flight per stream")
               : absl::StrCat(", ", o.samples_per_request, " sample(s) per request"),
      r.seconds, o.server, o.model, r.sent, r.received,
      r.sent == r.received ? " (none lost)" : " (MISMATCH)", r.throughput(), r.p50_ms, r.p90_ms,
      r.p99_ms, o.stream ? " (streams ended by code)" : " (samples by code)",
      errors.empty() ? " none" : errors);
}

}  // namespace v2p::client
