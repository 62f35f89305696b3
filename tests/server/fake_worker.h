// Fake workers for the gateway's tests: a real gRPC server per fake worker
// on 127.0.0.1:0 and the gateway's services reached through an in-process
// channel. No v2p-worker, no LibTorch.
#ifndef V2P_TESTS_SERVER_FAKE_WORKER_H_
#define V2P_TESTS_SERVER_FAKE_WORKER_H_

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
#include "proto/serving.h"
#include "server/dispatcher.h"
#include "server/model_catalog.h"
#include "server/models_service.h"
#include "server/reconstruction_service.h"
#include "server/validation.h"
#include "server/worker_pool.h"
#include "voxel2pixel/v1/reconstruction_service.grpc.pb.h"
#include "voxel2pixel/worker/v1/worker.grpc.pb.h"

namespace v2p::server {

namespace v1 = voxel2pixel::v1;
inline constexpr int kVoxels = 4;

class FakeWorker final : public voxel2pixel::worker::v1::Worker::Service {
 public:
  explicit FakeWorker(grpc::StatusCode fail_with = grpc::StatusCode::OK,
                      absl::Duration delay = absl::ZeroDuration())
      : fail_with_(fail_with), delay_(delay) {}

  grpc::Status Reconstruct(grpc::ServerContext* ctx, const v1::ReconstructRequest* req,
                           v1::ReconstructResponse* resp) override {
    ++calls;
    {
      absl::MutexLock lock(&mu_);
      last_deadline_ = ctx->deadline();
      batch_sizes_.push_back(req->samples_size());
    }
    absl::SleepFor(delay_);
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](bool* held) { return !*held; }, &held_));
    }
    if (fail_with_ != grpc::StatusCode::OK) return grpc::Status(fail_with_, "fake failure");
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
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no model " + req->name());
    resp->set_name("fake");
    resp->set_version(1);
    resp->set_num_voxels(kVoxels);
    ++models_described;
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

  // While held, Reconstruct calls wait (counted in `calls`) until Release.
  void Hold() {
    absl::MutexLock lock(&mu_);
    held_ = true;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    held_ = false;
  }

  std::vector<int> batch_sizes() {
    absl::MutexLock lock(&mu_);
    return batch_sizes_;
  }

  std::atomic<int> calls{0};
  std::atomic<int> models_described{0};  // GetModel calls answered OK

 private:
  const grpc::StatusCode fail_with_;
  const absl::Duration delay_;
  std::vector<int> batch_sizes_;
  absl::Mutex mu_;
  std::chrono::system_clock::time_point last_deadline_;
  absl::Duration get_model_delay_ = absl::ZeroDuration();
  bool held_ = false;
};

struct RunningWorker {
  explicit RunningWorker(grpc::StatusCode fail_with = grpc::StatusCode::OK,
                         absl::Duration delay = absl::ZeroDuration(), int listen_port = 0,
                         const std::string& host = "127.0.0.1")
      : service(fail_with, delay) {
    grpc::ServerBuilder b;
    b.AddListeningPort(host + ":" + std::to_string(listen_port), grpc::InsecureServerCredentials(),
                       &port);
    b.RegisterService(&service);
    // As v2p-worker: the pool's keepalive pings are welcome.
    for (const auto& [name, value] : KeepalivePingArgs()) b.AddChannelArgument(name, value);
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
inline std::unique_ptr<RunningWorker> WorkerWithHealth(int port = 0) {
  grpc::EnableDefaultHealthCheckService(true);  // read when a server is built
  auto w = std::make_unique<RunningWorker>(grpc::StatusCode::OK, absl::ZeroDuration(), port);
  grpc::EnableDefaultHealthCheckService(false);
  return w;
}

inline int ReadyCount(const WorkerPool& pool) {
  int ready = 0;
  for (const auto& s : pool.Slots()) ready += s.ready;
  return ready;
}

inline bool Eventually(const std::function<bool()>& condition,
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
inline bool WaitForReady(const WorkerPool& pool, int n,
                         absl::Duration timeout = absl::Seconds(10)) {
  return Eventually([&] { return ReadyCount(pool) == n; }, timeout);
}

class Gateway {
 public:
  explicit Gateway(const std::vector<std::string>& addresses)
      : Gateway([&] {
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
    dispatcher_ = std::make_unique<Dispatcher>(pool_.get(), Dispatcher::Options{});
    catalog_ = std::make_unique<ModelCatalog>(dispatcher_.get(), ModelCatalog::Options{});
    reconstruction_ = std::make_unique<ReconstructionService>(
        dispatcher_.get(), catalog_.get(), nullptr, std::move(coalescing), stream_window);
    grpc::ServerBuilder b;
    b.RegisterService(reconstruction_.get());
    server_ = b.BuildAndStart();
    stub_ = v1::Reconstruction::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
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

inline v1::ReconstructRequest Request(int samples, int voxels = kVoxels) {
  v1::ReconstructRequest r;
  r.set_model("fake");
  for (int i = 0; i < samples; ++i) {
    auto* s = r.add_samples();
    s->set_id("s" + std::to_string(i));
    for (int v = 0; v < voxels; ++v) s->add_betas(0.5f);
  }
  return r;
}

inline grpc::Status Call(Gateway& g, const v1::ReconstructRequest& req,
                         v1::ReconstructResponse* resp,
                         std::chrono::seconds timeout = std::chrono::seconds(10)) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  return g.stub().Reconstruct(&ctx, req, resp);
}

inline WorkerPool::Options Addresses(const std::vector<std::string>& addresses) {
  WorkerPool::Options o;
  o.addresses = addresses;
  return o;
}

inline RequestCoalescer::Options Coalescing(int max_batch_size) {
  RequestCoalescer::Options o;
  o.max_batch_size = max_batch_size;
  o.max_calls = [] { return 1; };
  return o;
}

// `n` single-sample requests at once, each with its own deadline; returns

}  // namespace v2p::server

#endif  // V2P_TESTS_SERVER_FAKE_WORKER_H_
