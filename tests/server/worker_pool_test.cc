// WorkerPool: finding workers (addresses, DNS), routing by placement and
// load, readiness from grpc.health.v1, devices, the --workers flag.
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
  // Its first health check has failed: not ready, and Acquire gives up.
  ASSERT_TRUE(Eventually([&] { return pool->Slots()[0].health_reports >= 1; }));
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
