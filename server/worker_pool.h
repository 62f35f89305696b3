// The workers the gateway sends work to: either processes it starts and
// supervises (spawn:N, restarted when they die), fixed addresses, or the
// addresses a DNS name resolves to. Each worker's grpc.health.v1 status is
// followed with a Watch stream (server/health_watch.h): only workers that
// serve are ready. Thread-safe.
#ifndef V2P_SERVER_WORKER_POOL_H_
#define V2P_SERVER_WORKER_POOL_H_

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <atomic>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/health_watch.h"
#include "voxel2pixel/worker/v1/worker.grpc.pb.h"

namespace v2p::server {

// One reachable worker. Shared with the calls using it, so a worker that
// is replaced stays valid until those calls end.
struct WorkerHandle {
  std::string address;
  pid_t pid = 0;  // 0 for a worker the pool did not start
  int slot = 0;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<voxel2pixel::worker::v1::Worker::Stub> stub;
  std::atomic<int> outstanding{0};

  // Models this worker is known to hold (a hint for routing, learnt from
  // answered calls and Load/UnloadModel; a restarted worker starts empty).
  bool Holds(const std::string& model) const {
    absl::MutexLock lock(&models_mu);
    return models.count(model) > 0;
  }
  void NoteHolds(const std::string& model) {
    absl::MutexLock lock(&models_mu);
    models.insert(model);
  }
  void NoteUnloaded(const std::string& model) {
    absl::MutexLock lock(&models_mu);
    models.erase(model);
  }

 private:
  mutable absl::Mutex models_mu;
  std::set<std::string> models ABSL_GUARDED_BY(models_mu);
};

// Devices for spawned workers: "auto" spreads them round the `gpus` visible
// GPUs (cuda:0, cuda:1, ...) or uses the CPU when there are none; any other
// value ("cpu", "cuda:1") is given to every worker.
std::vector<std::string> AssignDevices(const std::string& requested, int gpus);

// GPUs this process could use: the entries of CUDA_VISIBLE_DEVICES when it
// is set, else the NVIDIA driver's /proc/driver/nvidia/gpus entries. The
// gateway cannot ask LibTorch (it does not link it).
int VisibleGpus();

class WorkerPool {
 public:
  struct Options {
    // Start this many local workers (spawn:N) ...
    int spawn = 0;
    std::string worker_binary;
    std::string repository;
    std::vector<std::string> worker_args;  // e.g. --max_message_mb=64
    // --device of spawned worker i: devices[i % size]; empty = none given.
    std::vector<std::string> devices;
    // ... or use these running ones (host:port).
    std::vector<std::string> addresses;
    // ... or every address a DNS name resolves to (dns:///NAME:PORT, a
    // Kubernetes headless service; IPv4 when it has any, else IPv6),
    // re-resolved every dns_refresh.
    std::string dns_name;
    int dns_port = 0;
    absl::Duration dns_refresh = absl::Seconds(10);
    absl::Duration start_timeout = absl::Seconds(60);
    absl::Duration max_restart_backoff = absl::Seconds(5);
    int max_message_bytes = 64 << 20;
    // The channels' credentials (proto/tls.h; null: plaintext), and the
    // name the workers' certificates carry when it is not their address.
    std::shared_ptr<grpc::ChannelCredentials> credentials;
    std::string tls_server_name;
    // Called (without the pool's lock, one call at a time) with the number
    // of ready workers when Create has started the spawned workers and
    // whenever a worker becomes ready or is lost.
    std::function<void(int ready)> on_change;
    absl::Duration avoid_grace = absl::Seconds(10);
  };

  // Parses "spawn:N", "dns:///NAME:PORT" or "host:port,host:port" into
  // `options`.
  static absl::Status ParseWorkersFlag(const std::string& flag, Options* options);

  // Starts spawned workers and waits until each has served once.
  static absl::StatusOr<std::unique_ptr<WorkerPool>> Create(Options options);
  ~WorkerPool();  // stops supervision and terminates spawned workers

  // The ready worker with the fewest calls outstanding, preferring one that
  // holds `model` (when given) unless it has more than one call more
  // outstanding than the least busy worker: a model stays where it is
  // loaded until load spills it onto another worker. Waits for a ready
  // worker (a restart) until `deadline`, then UNAVAILABLE. A worker that just failed
  // a call can be passed as `avoid`: another one (such as its restarted
  // replacement) is preferred, waited for up to `avoid_grace`, and `avoid`
  // is used only when nothing else is ready by then.
  absl::StatusOr<std::shared_ptr<WorkerHandle>> Acquire(absl::Time deadline,
                                                        const WorkerHandle* avoid = nullptr,
                                                        const std::string& model = "");

  // Acquire's choice when it need not wait: null when no worker (other
  // than `avoid`) is ready now.
  std::shared_ptr<WorkerHandle> TryAcquire(const WorkerHandle* avoid,
                                           const std::string& model) const;

  // Every worker ready now (for calls that go to all of them).
  std::vector<std::shared_ptr<WorkerHandle>> ReadyWorkers() const;

  struct SlotState {
    std::string address;
    pid_t pid = 0;
    bool ready = false;
    int restarts = 0;
    // Health answers (or failures to reach it) reported for the current
    // worker: 0 while the first is awaited.
    int health_reports = 0;
  };
  std::vector<SlotState> Slots() const;

 private:
  struct Slot {
    std::shared_ptr<WorkerHandle> handle;  // null while (re)starting
    pid_t pid = 0;
    int restarts = 0;
    // The worker's last health status, and how many were reported.
    bool serving = false;
    int health_reports = 0;
    // Follows `handle`'s health. Destroyed only without mu_ held (its
    // thread takes mu_ to report).
    std::unique_ptr<HealthWatch> watch;

    bool ready() const { return handle != nullptr && serving; }
  };

  explicit WorkerPool(Options options) : options_(std::move(options)) {}
  // The ready worker Acquire picks (see there), other than `skip`.
  std::shared_ptr<WorkerHandle> BestReady(const WorkerHandle* skip, const std::string& model) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::shared_ptr<WorkerHandle> Connect(const std::string& address, pid_t pid, int slot) const;
  // Starts following `handle`'s health. Call with mu_ held and put the
  // result in `handle`'s slot before releasing it: the first report takes
  // mu_ and looks for that slot.
  std::unique_ptr<HealthWatch> WatchHealth(std::shared_ptr<WorkerHandle> handle)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Appends a slot for a worker the pool did not start (a listed or
  // resolved address); it is ready once it says it serves.
  void AddRemoteWorker(const std::string& address) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetServing(const WorkerHandle* handle, bool serving);
  void Supervise(int slot);
  absl::Status StartOne(int slot);
  void NotifyChange();
  void Resolve();  // dns mode: one re-resolution and reconciliation

  const Options options_;
  absl::Mutex notify_mu_;  // taken before mu_, never while holding it
  mutable absl::Mutex mu_;
  std::vector<Slot> slots_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> supervisors_;
};

}  // namespace v2p::server

#endif  // V2P_SERVER_WORKER_POOL_H_
