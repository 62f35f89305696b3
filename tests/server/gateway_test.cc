// The gateway's services against fake workers: a real gRPC server per fake
// worker on 127.0.0.1:0, the gateway's services reached through an
// in-process channel. No v2p-worker, no LibTorch.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <limits>
#include <memory>
#include <numeric>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/dispatcher.h"
#include "server/model_catalog.h"
#include "server/models_service.h"
#include "server/reconstruction_service.h"
#include "server/validation.h"
#include "server/worker_pool.h"
#include "voxel2pixel/v1/reconstruction_service.grpc.pb.h"
#include "voxel2pixel/worker/v1/worker.grpc.pb.h"

using ::testing::HasSubstr;

namespace v2p::server {
namespace {

namespace v1 = voxel2pixel::v1;
constexpr int kVoxels = 4;

class FakeWorker final : public voxel2pixel::worker::v1::Worker::Service {
 public:
  explicit FakeWorker(grpc::StatusCode fail_with = grpc::StatusCode::OK,
                      absl::Duration delay = absl::ZeroDuration())
      : fail_with_(fail_with), delay_(delay) {}

  grpc::Status Reconstruct(grpc::ServerContext* ctx,
                           const v1::ReconstructRequest* req,
                           v1::ReconstructResponse* resp) override {
    ++calls;
    {
      absl::MutexLock lock(&mu_);
      last_deadline_ = ctx->deadline();
      batch_sizes_.push_back(req->samples_size());
    }
    absl::SleepFor(delay_);
    if (fail_with_ != grpc::StatusCode::OK)
      return grpc::Status(fail_with_, "fake failure");
    for (const auto& s : req->samples()) {
      auto* r = resp->add_results();
      r->set_sample_id(s.id());
      r->set_model(req->model());
    }
    return grpc::Status::OK;
  }
  grpc::Status GetModel(grpc::ServerContext*, const v1::GetModelRequest* req,
                        v1::Model* resp) override {
    absl::SleepFor(get_model_delay());
    if (req->name() != "fake")
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          "no model " + req->name());
    resp->set_name("fake");
    resp->set_version(1);
    resp->set_num_voxels(kVoxels);
    return grpc::Status::OK;
  }
  std::chrono::system_clock::time_point last_deadline() {
    absl::MutexLock lock(&mu_);
    return last_deadline_;
  }

  void set_get_model_delay(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    get_model_delay_ = d;
  }
  absl::Duration get_model_delay() {
    absl::MutexLock lock(&mu_);
    return get_model_delay_;
  }

  std::vector<int> batch_sizes() {
    absl::MutexLock lock(&mu_);
    return batch_sizes_;
  }

  std::atomic<int> calls{0};

 private:
  const grpc::StatusCode fail_with_;
  const absl::Duration delay_;
  std::vector<int> batch_sizes_;
  absl::Mutex mu_;
  std::chrono::system_clock::time_point last_deadline_;
  absl::Duration get_model_delay_ = absl::ZeroDuration();
};

struct RunningWorker {
  explicit RunningWorker(grpc::StatusCode fail_with = grpc::StatusCode::OK,
                         absl::Duration delay = absl::ZeroDuration(), int listen_port = 0,
                         const std::string& host = "127.0.0.1")
      : service(fail_with, delay) {
    grpc::ServerBuilder b;
    b.AddListeningPort(host + ":" + std::to_string(listen_port),
                       grpc::InsecureServerCredentials(), &port);
    b.RegisterService(&service);
    server = b.BuildAndStart();
  }
  ~RunningWorker() { server->Shutdown(); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
  FakeWorker service;
  int port = 0;
  std::unique_ptr<grpc::Server> server;
};

// A fake worker that also serves grpc.health.v1 (gRPC's own service: ""
// SERVING until told otherwise), on `port` (0: any free one). The others
// have no health service, which the pool takes as serving.
std::unique_ptr<RunningWorker> WorkerWithHealth(int port = 0) {
  grpc::EnableDefaultHealthCheckService(true);  // read when a server is built
  auto w = std::make_unique<RunningWorker>(grpc::StatusCode::OK, absl::ZeroDuration(), port);
  grpc::EnableDefaultHealthCheckService(false);
  return w;
}

int ReadyCount(const WorkerPool& pool) {
  int ready = 0;
  for (const auto& s : pool.Slots()) ready += s.ready;
  return ready;
}

bool Eventually(const std::function<bool()>& condition,
                absl::Duration timeout = absl::Seconds(5)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

// Workers become ready on their first health answer, a few ms after the
// pool is created.
bool WaitForReady(const WorkerPool& pool, int n, absl::Duration timeout = absl::Seconds(10)) {
  return Eventually([&] { return ReadyCount(pool) == n; }, timeout);
}

class Gateway {
 public:
  explicit Gateway(const std::vector<std::string>& addresses) : Gateway([&] {
    WorkerPool::Options o;
    o.addresses = addresses;
    return o;
  }()) {}
  explicit Gateway(WorkerPool::Options o,
                   RequestCoalescer::Options coalescing = ReconstructionService::NoCoalescing(),
                   int stream_window = 8) {
    o.avoid_grace = absl::Milliseconds(200);
    pool_ = *WorkerPool::Create(o);
    EXPECT_TRUE(WaitForReady(*pool_, std::max<int>(1, o.addresses.size())));
    dispatcher_ =
        std::make_unique<Dispatcher>(pool_.get(), Dispatcher::Options{});
    catalog_ = std::make_unique<ModelCatalog>(dispatcher_.get(),
                                              ModelCatalog::Options{});
    reconstruction_ = std::make_unique<ReconstructionService>(
        dispatcher_.get(), catalog_.get(), nullptr, std::move(coalescing), stream_window);
    grpc::ServerBuilder b;
    b.RegisterService(reconstruction_.get());
    server_ = b.BuildAndStart();
    stub_ = v1::Reconstruction::NewStub(
        server_->InProcessChannel(grpc::ChannelArguments()));
  }
  ~Gateway() { server_->Shutdown(); }
  v1::Reconstruction::Stub& stub() { return *stub_; }

 private:
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<ModelCatalog> catalog_;
  std::unique_ptr<ReconstructionService> reconstruction_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Reconstruction::Stub> stub_;
};

v1::ReconstructRequest Request(int samples, int voxels = kVoxels) {
  v1::ReconstructRequest r;
  r.set_model("fake");
  for (int i = 0; i < samples; ++i) {
    auto* s = r.add_samples();
    s->set_id("s" + std::to_string(i));
    for (int v = 0; v < voxels; ++v) s->add_betas(0.5f);
  }
  return r;
}

grpc::Status Call(Gateway& g, const v1::ReconstructRequest& req,
                  v1::ReconstructResponse* resp,
                  std::chrono::seconds timeout = std::chrono::seconds(10)) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  return g.stub().Reconstruct(&ctx, req, resp);
}

TEST(Gateway, BadSamplesAreRefusedBeforeReachingAWorker) {
  RunningWorker w;
  Gateway g({w.address()});
  v1::ReconstructResponse resp;
  grpc::Status s = Call(g, Request(2, kVoxels + 1), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("expects 4 betas, received 5"));
  auto nan = Request(1);
  nan.mutable_samples(0)->set_betas(2, std::nanf(""));
  EXPECT_EQ(Call(g, nan, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Call(g, Request(0), &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  auto unknown = Request(1);
  unknown.set_model("other");
  EXPECT_EQ(Call(g, unknown, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(w.service.calls, 0);

  ASSERT_TRUE(Call(g, Request(3), &resp).ok());
  EXPECT_EQ(resp.results_size(), 3);
  EXPECT_EQ(w.service.calls, 1);
}

// The gateway's finite check on a sample of the real digit69 size: every
// kind of non-finite value is refused wherever it is (first value, inside a
// block of the vectorised pass, the tail after the last block, the last
// value), naming the sample and the beta; the extreme finite values pass.
TEST(Validation, EveryNonFiniteBetaIsRefusedWhereverItIs) {
  v1::Model model;
  model.set_name("digit69");
  model.set_num_voxels(3092);
  using L = std::numeric_limits<float>;
  for (float value : {L::quiet_NaN(), -L::quiet_NaN(), L::infinity(), -L::infinity()}) {
    for (int at : {0, 1500, 3089, 3091}) {
      v1::Sample sample;
      sample.set_id("s");
      sample.mutable_betas()->Resize(3092, 0.0f);
      sample.set_betas(at, value);
      const absl::Status s = ValidateSample(sample, 7, model);
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << value << " at " << at;
      EXPECT_THAT(std::string(s.message()),
                  HasSubstr("(index 7): beta " + std::to_string(at) + " is"));
    }
  }
  v1::Sample extremes;
  extremes.mutable_betas()->Resize(3092, 0.0f);
  extremes.set_betas(0, L::max());
  extremes.set_betas(1500, L::lowest());
  extremes.set_betas(3091, L::denorm_min());
  EXPECT_TRUE(ValidateSample(extremes, 0, model).ok());
}

TEST(Gateway, UnavailableWorkerIsRetriedOnceOnAnother) {
  RunningWorker dead(grpc::StatusCode::UNAVAILABLE), healthy;
  Gateway g({dead.address(), healthy.address()});
  v1::ReconstructResponse resp;
  for (int i = 0; i < 4; ++i) {
    const grpc::Status s = Call(g, Request(1), &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_EQ(healthy.service.calls, 4);
  EXPECT_LE(dead.service.calls, 4);  // at most one failed attempt per request
}

TEST(Gateway, OtherErrorsAreNotRetried) {
  RunningWorker broken(grpc::StatusCode::INTERNAL), healthy;
  Gateway g({broken.address(), healthy.address()});
  v1::ReconstructResponse resp;
  const grpc::Status s = Call(g, Request(1), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(broken.service.calls, 1);
  EXPECT_EQ(healthy.service.calls, 0);
}

TEST(Gateway, OnlyUnavailableWorkersGiveUnavailable) {
  RunningWorker dead(grpc::StatusCode::UNAVAILABLE);
  Gateway g({dead.address()});
  v1::ReconstructResponse resp;
  EXPECT_EQ(Call(g, Request(1), &resp).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(dead.service.calls,
            2);  // first try, then the retry falls back to it
}

TEST(Gateway, CallersDeadlineReachesTheWorker) {
  RunningWorker w;
  Gateway g({w.address()});
  v1::ReconstructResponse resp;
  const auto before = std::chrono::system_clock::now();
  ASSERT_TRUE(Call(g, Request(1), &resp, std::chrono::seconds(7)).ok());
  const auto seen = w.service.last_deadline();
  // The worker sees the caller's 7 s deadline, not gRPC's infinite default
  // nor the gateway's own 60 s bound.
  EXPECT_GT(seen, before + std::chrono::seconds(6));
  EXPECT_LT(seen, before + std::chrono::seconds(8));
}

TEST(Gateway, StreamAnswersEachSampleInOrder) {
  RunningWorker w;
  Gateway g({w.address()});
  grpc::ClientContext ctx;
  auto stream = g.stub().StreamReconstruct(&ctx);
  for (int i = 0; i < 5; ++i) {
    v1::StreamReconstructRequest req;
    if (i == 0) req.set_model("fake");
    *req.mutable_sample() = Request(1).samples(0);
    req.mutable_sample()->set_id("id-" + std::to_string(i));
    ASSERT_TRUE(stream->Write(req));
    v1::StreamReconstructResponse resp;
    ASSERT_TRUE(stream->Read(&resp));
    EXPECT_EQ(resp.result().sample_id(), "id-" + std::to_string(i));
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

WorkerPool::Options Addresses(const std::vector<std::string>& addresses) {
  WorkerPool::Options o;
  o.addresses = addresses;
  return o;
}

RequestCoalescer::Options Coalescing(int max_batch_size) {
  RequestCoalescer::Options o;
  o.max_batch_size = max_batch_size;
  o.max_calls = [] { return 1; };
  return o;
}

// `n` single-sample requests at once, each with its own deadline; returns
// their statuses and responses.
struct Outcome {
  grpc::Status status;
  v1::ReconstructResponse response;
};
std::vector<Outcome> ConcurrentRequests(Gateway& g, int n, std::chrono::milliseconds timeout) {
  std::vector<Outcome> out(n);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      v1::ReconstructRequest req = Request(1);
      req.mutable_samples(0)->set_id("req-" + std::to_string(i));
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + timeout);
      out[i].status = g.stub().Reconstruct(&ctx, req, &out[i].response);
    });
  }
  for (auto& t : threads) t.join();
  return out;
}

TEST(GatewayBatching, ConcurrentRequestsShareWorkerCallsAndGetTheirOwnResults) {
  // A slow worker, one call at a time: requests arriving during a call
  // queue and go together in the next, at most 8 samples per call.
  RunningWorker w(grpc::StatusCode::OK, absl::Milliseconds(100));
  Gateway g(Addresses({w.address()}), Coalescing(8));
  const std::vector<Outcome> out = ConcurrentRequests(g, 20, std::chrono::seconds(20));
  int64_t longest_queue_ns = 0;
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(out[i].status.ok()) << i << ": " << out[i].status.error_message();
    ASSERT_EQ(out[i].response.results_size(), 1);
    EXPECT_EQ(out[i].response.results(0).sample_id(), "req-" + std::to_string(i));
    const auto& queue = out[i].response.results(0).timings().queue();
    longest_queue_ns = std::max(longest_queue_ns, queue.seconds() * 1'000'000'000 + queue.nanos());
  }
  // The gateway's wait is reported as queue time (the fake worker reports
  // none): a request that queued behind a 100 ms call waited most of it.
  EXPECT_GE(longest_queue_ns, 50'000'000);
  const std::vector<int> sizes = w.service.batch_sizes();
  int total = 0;
  for (int s : sizes) {
    EXPECT_LE(s, 8);
    total += s;
  }
  EXPECT_EQ(total, 20);  // every sample sent exactly once
  EXPECT_LT(sizes.size(), 20u);
  EXPECT_GT(*std::max_element(sizes.begin(), sizes.end()), 1);
}

TEST(GatewayBatching, AWorkerErrorReachesEveryRequestOfTheBatch) {
  RunningWorker broken(grpc::StatusCode::INTERNAL, absl::Milliseconds(50));
  Gateway g(Addresses({broken.address()}), Coalescing(8));
  for (const Outcome& o : ConcurrentRequests(g, 6, std::chrono::seconds(20))) {
    EXPECT_EQ(o.status.error_code(), grpc::StatusCode::INTERNAL);
  }
}

TEST(GatewayBatching, ARequestWhoseDeadlinePassesInTheQueueLeavesIt) {
  // Each call takes 400 ms; requests with a 150 ms deadline that queue
  // behind the first call give up with DEADLINE_EXCEEDED, and the queue
  // keeps serving: a later request with time to spare is answered.
  RunningWorker w(grpc::StatusCode::OK, absl::Milliseconds(400));
  Gateway g(Addresses({w.address()}), Coalescing(8));
  const std::vector<Outcome> out = ConcurrentRequests(g, 6, std::chrono::milliseconds(150));
  for (const Outcome& o : out) EXPECT_EQ(o.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  v1::ReconstructResponse resp;
  const grpc::Status s = Call(g, Request(2), &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.results_size(), 2);
}

TEST(GatewayBatching, CallersThatGiveUpWhileTheirModelIsLookedUpAreNotSent) {
  // The worker takes 300 ms to describe its model. Requests with a 100 ms
  // deadline give up while the gateway is still asking: each is answered,
  // none reaches the worker, and the gateway keeps serving.
  RunningWorker w;
  w.service.set_get_model_delay(absl::Milliseconds(300));
  Gateway g(Addresses({w.address()}), Coalescing(8));
  for (const Outcome& o : ConcurrentRequests(g, 4, std::chrono::milliseconds(100))) {
    EXPECT_EQ(o.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  absl::SleepFor(absl::Milliseconds(400));  // the lookups have ended
  EXPECT_EQ(w.service.calls, 0);
  v1::ReconstructResponse resp;
  const grpc::Status s = Call(g, Request(2), &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.results_size(), 2);
  EXPECT_EQ(w.service.calls, 1);
}

TEST(GatewayBatching, ACancelledRequestLeavesTheQueueAndIsNotSent) {
  // A slow worker holds the first request; a second one queues behind it
  // and is cancelled by its caller: it is answered CANCELLED at once and
  // never sent, and the first is answered as usual.
  RunningWorker w(grpc::StatusCode::OK, absl::Milliseconds(400));
  Gateway g(Addresses({w.address()}), Coalescing(8));
  Outcome first;
  std::thread t([&] {
    v1::ReconstructRequest req = Request(1);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    first.status = g.stub().Reconstruct(&ctx, req, &first.response);
  });
  ASSERT_TRUE(Eventually([&] { return w.service.calls == 1; }));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::ReconstructResponse resp;
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(100));
    ctx.TryCancel();
  });
  const absl::Time start = absl::Now();
  EXPECT_EQ(g.stub().Reconstruct(&ctx, Request(1), &resp).error_code(),
            grpc::StatusCode::CANCELLED);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(300));  // not held for the batch
  canceller.join();
  t.join();
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  EXPECT_EQ(first.response.results_size(), 1);
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(w.service.calls, 1);
}

// Writes `n` samples (ids "id-0", ...) on one stream without waiting for
// results, the one at `bad` (if any) with a wrong voxel count; then reads
// every result. Returns the ids received in order and the final status.
struct StreamOutcome {
  std::vector<std::string> ids;
  grpc::Status status;
};
StreamOutcome StreamSamples(Gateway& g, int n, int bad = -1) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto stream = g.stub().StreamReconstruct(&ctx);
  std::thread writer([&] {
    for (int i = 0; i < n; ++i) {
      v1::StreamReconstructRequest req;
      if (i == 0) req.set_model("fake");
      *req.mutable_sample() = Request(1, i == bad ? kVoxels + 1 : kVoxels).samples(0);
      req.mutable_sample()->set_id("id-" + std::to_string(i));
      if (!stream->Write(req)) break;
    }
    stream->WritesDone();
  });
  StreamOutcome out;
  v1::StreamReconstructResponse resp;
  while (stream->Read(&resp)) out.ids.push_back(resp.result().sample_id());
  writer.join();
  out.status = stream->Finish();
  return out;
}

std::vector<std::string> Ids(int n) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back("id-" + std::to_string(i));
  return ids;
}

TEST(GatewayStreaming, ASampleWindowIsInFlightAndAnsweredInOrder) {
  // Each worker call takes 100 ms. 8 samples sent at once on one stream
  // with a window of 8 travel together (2 calls: the first sample alone,
  // then the 7 that queued behind it), not one call after another.
  RunningWorker w(grpc::StatusCode::OK, absl::Milliseconds(100));
  Gateway g(Addresses({w.address()}), Coalescing(8), /*stream_window=*/8);
  const absl::Time start = absl::Now();
  const StreamOutcome out = StreamSamples(g, 8);
  ASSERT_TRUE(out.status.ok()) << out.status.error_message();
  EXPECT_EQ(out.ids, Ids(8));
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(600));
  EXPECT_LE(w.service.calls, 3);
}

TEST(GatewayStreaming, TheWindowBoundsWhatOneStreamHasInFlight) {
  RunningWorker w(grpc::StatusCode::OK, absl::Milliseconds(50));
  Gateway g(Addresses({w.address()}), Coalescing(8), /*stream_window=*/2);
  const StreamOutcome out = StreamSamples(g, 10);
  ASSERT_TRUE(out.status.ok()) << out.status.error_message();
  EXPECT_EQ(out.ids, Ids(10));
  const std::vector<int> sizes = w.service.batch_sizes();
  EXPECT_EQ(std::accumulate(sizes.begin(), sizes.end(), 0), 10);  // each sent once
  for (int s : sizes) EXPECT_LE(s, 2);
}

TEST(GatewayStreaming, ABadMessageEndsTheStreamAfterTheSamplesBeforeItAreAnswered) {
  // Message 3 has the wrong voxel count: samples 0-2, accepted already, are
  // answered, then the stream ends naming message 3; none after it is sent.
  RunningWorker w(grpc::StatusCode::OK, absl::Milliseconds(50));
  Gateway g(Addresses({w.address()}), Coalescing(8), /*stream_window=*/8);
  const StreamOutcome out = StreamSamples(g, 6, /*bad=*/3);
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(out.status.error_message(), HasSubstr("stream message 3"));
  EXPECT_EQ(out.ids, Ids(3));
  const std::vector<int> sizes = w.service.batch_sizes();
  EXPECT_EQ(std::accumulate(sizes.begin(), sizes.end(), 0), 3);
}

TEST(GatewayStreaming, AFailedSampleEndsTheStreamWithItsError) {
  RunningWorker broken(grpc::StatusCode::INTERNAL);
  Gateway g(Addresses({broken.address()}), Coalescing(8), /*stream_window=*/4);
  const StreamOutcome out = StreamSamples(g, 5);
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(out.status.error_message(), HasSubstr("stream message 0"));
  EXPECT_TRUE(out.ids.empty());
}

TEST(Gateway, FindsWorkersThroughDns) {
  RunningWorker w;
  WorkerPool::Options o;
  ASSERT_TRUE(WorkerPool::ParseWorkersFlag("dns:///localhost:" + std::to_string(w.port), &o).ok());
  Gateway g(o);
  v1::ReconstructResponse resp;
  const grpc::Status s = Call(g, Request(2), &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.results_size(), 2);
  EXPECT_EQ(w.service.calls, 1);
}

TEST(Gateway, FindsIpv6WorkersThroughDns) {
  RunningWorker w(grpc::StatusCode::OK, absl::ZeroDuration(), 0, "[::1]");
  if (w.port == 0) GTEST_SKIP() << "no IPv6 loopback on this machine";
  WorkerPool::Options o;
  ASSERT_TRUE(WorkerPool::ParseWorkersFlag("dns:///[::1]:" + std::to_string(w.port), &o).ok());
  EXPECT_EQ(o.dns_name, "::1");
  Gateway g(o);
  v1::ReconstructResponse resp;
  const grpc::Status s = Call(g, Request(2), &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.results_size(), 2);
  EXPECT_EQ(w.service.calls, 1);
}

TEST(WorkerRouting, PrefersAWorkerHoldingTheModelUntilItIsBusier) {
  RunningWorker a, b;
  auto pool = *WorkerPool::Create(Addresses({a.address(), b.address()}));
  ASSERT_TRUE(WaitForReady(*pool, 2));
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  auto first = *pool->Acquire(deadline);
  auto second = *pool->Acquire(deadline);
  ASSERT_EQ(first.get(), second.get());  // idle ties go to the first slot
  auto other = first.get() == pool->ReadyWorkers()[0].get() ? pool->ReadyWorkers()[1]
                                                             : pool->ReadyWorkers()[0];
  other->NoteHolds("m");
  EXPECT_EQ((*pool->Acquire(deadline, nullptr, "m")).get(), other.get());
  EXPECT_EQ((*pool->Acquire(deadline, nullptr, "n")).get(), first.get());
  other->outstanding = 1;  // one call more than the idle worker: still preferred
  EXPECT_EQ((*pool->Acquire(deadline, nullptr, "m")).get(), other.get());
  other->outstanding = 2;  // two more: the load spills onto the other worker
  EXPECT_EQ((*pool->Acquire(deadline, nullptr, "m")).get(), first.get());
  other->outstanding = 0;
  other->NoteUnloaded("m");
  EXPECT_EQ((*pool->Acquire(deadline, nullptr, "m")).get(), first.get());
}

TEST(WorkerRouting, AnsweredCallsTeachTheGatewayWhereAModelIs) {
  // Worker b answers "fake" first (a is busy); afterwards sequential
  // requests stay on b although a is idle and first in the list.
  RunningWorker a, b;
  WorkerPool::Options o = Addresses({a.address(), b.address()});
  auto pool = *WorkerPool::Create(o);
  ASSERT_TRUE(WaitForReady(*pool, 2));
  Dispatcher dispatcher(pool.get(), {});
  auto slot_a = pool->ReadyWorkers()[0];
  slot_a->outstanding = 1;
  const auto call = [](auto& stub, grpc::ClientContext& ctx) {
    v1::ReconstructResponse resp;
    return stub.Reconstruct(&ctx, Request(1), &resp);
  };
  ASSERT_TRUE(dispatcher.Run(nullptr, call, "fake").ok());
  slot_a->outstanding = 0;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(dispatcher.Run(nullptr, call, "fake").ok());
  EXPECT_EQ(a.service.calls, 0);
  EXPECT_EQ(b.service.calls, 6);
}

TEST(WorkerHealth, OnlyAWorkerThatSaysItServesIsReady) {
  auto w = WorkerWithHealth();
  std::atomic<int> reported{-1};
  WorkerPool::Options o = Addresses({w->address()});
  o.on_change = [&](int ready) { reported = ready; };
  auto pool = *WorkerPool::Create(o);
  ASSERT_TRUE(WaitForReady(*pool, 1));
  EXPECT_TRUE(Eventually([&] { return reported == 1; }));

  w->server->GetHealthCheckService()->SetServingStatus("", false);
  ASSERT_TRUE(WaitForReady(*pool, 0));
  EXPECT_TRUE(Eventually([&] { return reported == 0; }));
  EXPECT_TRUE(pool->ReadyWorkers().empty());
  EXPECT_EQ(pool->Acquire(absl::Now() + absl::Milliseconds(200)).status().code(),
            absl::StatusCode::kUnavailable);

  w->server->GetHealthCheckService()->SetServingStatus("", true);
  ASSERT_TRUE(WaitForReady(*pool, 1));
  EXPECT_TRUE(Eventually([&] { return reported == 1; }));
  EXPECT_TRUE(pool->Acquire(absl::Now() + absl::Seconds(1)).ok());
}

TEST(WorkerHealth, AWorkerIsReadyOnlyWhileItCanBeReached) {
  int port = 0;
  {
    RunningWorker probe;  // a port that was free a moment ago
    port = probe.port;
  }
  auto pool = *WorkerPool::Create(Addresses({"127.0.0.1:" + std::to_string(port)}));
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(ReadyCount(*pool), 0);
  EXPECT_EQ(pool->Acquire(absl::Now() + absl::Milliseconds(200)).status().code(),
            absl::StatusCode::kUnavailable);

  auto w = WorkerWithHealth(port);
  ASSERT_EQ(w->port, port);
  // Reconnection backs off to at most 2 s.
  ASSERT_TRUE(WaitForReady(*pool, 1, absl::Seconds(5)));

  w->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  w.reset();
  ASSERT_TRUE(WaitForReady(*pool, 0, absl::Seconds(5)));
}

TEST(WorkerHealth, ADrainingWorkerIsLeftAndNotKeptWaiting) {
  auto w = WorkerWithHealth();
  std::unique_ptr<WorkerPool> pool = *WorkerPool::Create(Addresses({w->address()}));
  ASSERT_TRUE(WaitForReady(*pool, 1));
  // What v2p-worker does on SIGTERM: NOT_SERVING everywhere, then a
  // shutdown that waits for every open call.
  w->server->GetHealthCheckService()->Shutdown();
  ASSERT_TRUE(WaitForReady(*pool, 0));
  std::atomic<bool> stopped{false};
  std::thread stop([&] {
    w->server->Shutdown();  // no deadline
    stopped = true;
  });
  EXPECT_TRUE(Eventually([&] { return stopped.load(); }, absl::Seconds(10)))
      << "the pool kept a Watch open on a draining worker";
  pool.reset();  // ends any stream left, so the shutdown returns either way
  stop.join();
}

TEST(WorkerDevices, AutoSpreadsWorkersRoundTheGpus) {
  EXPECT_EQ(AssignDevices("auto", 0), std::vector<std::string>{"cpu"});
  EXPECT_EQ(AssignDevices("auto", 2), (std::vector<std::string>{"cuda:0", "cuda:1"}));
  EXPECT_EQ(AssignDevices("cuda:1", 4), std::vector<std::string>{"cuda:1"});
  EXPECT_EQ(AssignDevices("cpu", 4), std::vector<std::string>{"cpu"});
  setenv("CUDA_VISIBLE_DEVICES", "0,2,3", 1);
  EXPECT_EQ(VisibleGpus(), 3);
  setenv("CUDA_VISIBLE_DEVICES", "", 1);
  EXPECT_EQ(VisibleGpus(), 0);
  unsetenv("CUDA_VISIBLE_DEVICES");
}

TEST(WorkerPoolFlag, ParsesSpawnAndAddresses) {
  WorkerPool::Options o;
  ASSERT_TRUE(WorkerPool::ParseWorkersFlag("spawn:3", &o).ok());
  EXPECT_EQ(o.spawn, 3);
  WorkerPool::Options a;
  ASSERT_TRUE(WorkerPool::ParseWorkersFlag("h1:1,h2:2", &a).ok());
  EXPECT_EQ(a.addresses, (std::vector<std::string>{"h1:1", "h2:2"}));
  WorkerPool::Options bad;
  EXPECT_FALSE(WorkerPool::ParseWorkersFlag("spawn:0", &bad).ok());
  EXPECT_FALSE(WorkerPool::ParseWorkersFlag("nohostport", &bad).ok());
  WorkerPool::Options dns;
  ASSERT_TRUE(WorkerPool::ParseWorkersFlag("dns:///v2p-worker.default.svc:8600", &dns).ok());
  EXPECT_EQ(dns.dns_name, "v2p-worker.default.svc");
  EXPECT_EQ(dns.dns_port, 8600);
  EXPECT_FALSE(WorkerPool::ParseWorkersFlag("dns:///noport", &bad).ok());
  EXPECT_FALSE(WorkerPool::ParseWorkersFlag("dns:///host:99999", &bad).ok());
}

}  // namespace
}  // namespace v2p::server
