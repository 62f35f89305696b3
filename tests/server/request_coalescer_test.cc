// RequestCoalescer in the gateway: concurrent requests for one model share
// worker calls; deadlines and cancellation leave the queue.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/fake_worker.h"

using ::testing::HasSubstr;

namespace v2p::server {
namespace {

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
  for (const Outcome& o : out)
    EXPECT_EQ(o.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
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
  // Once the lookup has been answered, a new request queues behind any the
  // gateway still held: the worker sees only the new request's samples.
  ASSERT_TRUE(Eventually([&] { return w.service.models_described >= 1; }));
  v1::ReconstructResponse resp;
  const grpc::Status s = Call(g, Request(2), &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.results_size(), 2);
  EXPECT_THAT(w.service.batch_sizes(), ::testing::ElementsAre(2));
}

TEST(GatewayBatching, ACancelledRequestLeavesTheQueueAndIsNotSent) {
  // The worker holds the first request; a second one queues behind it and
  // is cancelled by its caller: it is answered CANCELLED at once and never
  // sent, it leaves the queue count, and the first is answered as usual.
  RunningWorker w;
  w.service.Hold();
  std::atomic<int> queued{0};
  RequestCoalescer::Options coalescing = Coalescing(8);
  coalescing.on_queued = [&](int delta) { queued += delta; };
  Gateway g(Addresses({w.address()}), coalescing);
  Outcome first;
  std::thread t([&] {
    v1::ReconstructRequest req = Request(1);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    first.status = g.stub().Reconstruct(&ctx, req, &first.response);
  });
  ASSERT_TRUE(Eventually([&] { return w.service.calls == 1; }));
  ASSERT_EQ(queued, 0);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::ReconstructResponse resp;
  Outcome second;
  std::thread caller([&] { second.status = g.stub().Reconstruct(&ctx, Request(1), &resp); });
  ASSERT_TRUE(Eventually([&] { return queued == 1; }));
  ctx.TryCancel();
  caller.join();  // answered while the worker still holds the first
  EXPECT_EQ(second.status.error_code(), grpc::StatusCode::CANCELLED);
  // The client sees CANCELLED as soon as it cancels; the gateway learns of
  // it on its own thread, so the queue count is waited for, still while
  // the worker holds the first request.
  EXPECT_TRUE(Eventually([&] { return queued == 0; }));
  EXPECT_EQ(w.service.calls, 1);
  w.service.Release();
  t.join();
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  EXPECT_EQ(first.response.results_size(), 1);
  // A later request queues behind anything still held: the worker sees the
  // first request and then this one, alone.
  v1::ReconstructResponse later;
  ASSERT_TRUE(Call(g, Request(1), &later).ok());
  EXPECT_THAT(w.service.batch_sizes(), ::testing::ElementsAre(1, 1));
}

// Writes `n` samples (ids "id-0", ...) on one stream without waiting for
// results, the one at `bad` (if any) with a wrong voxel count; then reads
// every result. Returns the ids received in order and the final status.

}  // namespace
}  // namespace v2p::server
