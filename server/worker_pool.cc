#include "server/worker_pool.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "server/subprocess.h"

namespace v2p::server {
namespace {

void Log(const std::string& msg) { std::fprintf(stderr, "v2p-server: %s\n", msg.c_str()); }

}  // namespace

std::vector<std::string> AssignDevices(const std::string& requested, int gpus) {
  if (requested != "auto") return {requested};
  if (gpus <= 0) return {"cpu"};
  std::vector<std::string> devices;
  for (int i = 0; i < gpus; ++i) devices.push_back(absl::StrCat("cuda:", i));
  return devices;
}

int VisibleGpus() {
  if (const char* env = std::getenv("CUDA_VISIBLE_DEVICES")) {
    int n = 0;
    for (absl::string_view d : absl::StrSplit(env, ',', absl::SkipWhitespace())) {
      n += d != "-1";
    }
    return n;
  }
  std::error_code ec;
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/driver/nvidia/gpus", ec)) {
    (void)e;
    ++n;
  }
  return n;
}

absl::Status WorkerPool::ParseWorkersFlag(const std::string& flag, Options* options) {
  if (absl::StartsWith(flag, "dns:///")) {
    const std::string target = flag.substr(7);
    const size_t colon = target.rfind(':');
    int port = 0;
    if (colon == std::string::npos || colon == 0 ||
        !absl::SimpleAtoi(target.substr(colon + 1), &port) || port <= 0 || port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("--workers=", flag, ": expected dns:///NAME:PORT"));
    }
    std::string name = target.substr(0, colon);
    // An IPv6 literal comes in brackets, as in a URI: dns:///[fd00::1]:8600.
    if (name.size() > 2 && name.front() == '[' && name.back() == ']') {
      name = name.substr(1, name.size() - 2);
    }
    options->dns_name = name;
    options->dns_port = port;
    return absl::OkStatus();
  }
  if (absl::StartsWith(flag, "spawn:")) {
    int n = 0;
    if (!absl::SimpleAtoi(flag.substr(6), &n) || n < 1 || n > 64) {
      return absl::InvalidArgumentError(
          absl::StrCat("--workers=", flag, ": spawn:N needs 1 <= N <= 64"));
    }
    options->spawn = n;
    return absl::OkStatus();
  }
  for (absl::string_view a : absl::StrSplit(flag, ',', absl::SkipWhitespace())) {
    if (a.find(':') == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("--workers: '", a, "' is not host:port"));
    }
    options->addresses.emplace_back(a);
  }
  if (options->addresses.empty()) {
    return absl::InvalidArgumentError("--workers: expected spawn:N or host:port[,host:port...]");
  }
  return absl::OkStatus();
}

std::shared_ptr<WorkerHandle> WorkerPool::Connect(const std::string& address, pid_t pid,
                                                  int slot) const {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options_.max_message_bytes);
  args.SetMaxSendMessageSize(options_.max_message_bytes);
  // A worker that comes back (a restarted pod) is reconnected to within
  // 2 s, not gRPC's default of up to 2 minutes.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // A worker that stops answering (hung, SIGSTOPped, its host gone without
  // a reset) misses a ping within 2 + 2 s: its connection is closed, its
  // calls fail UNAVAILABLE and are retried on another worker, and it is
  // not ready until it answers again. Pings go to gRPC's I/O threads, so a
  // worker busy computing still answers them.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 2000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 2000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  auto h = std::make_shared<WorkerHandle>();
  h->address = address;
  h->pid = pid;
  h->slot = slot;
  if (!options_.tls_server_name.empty()) args.SetSslTargetNameOverride(options_.tls_server_name);
  h->channel = grpc::CreateCustomChannel(
      address, options_.credentials ? options_.credentials : grpc::InsecureChannelCredentials(),
      args);
  h->stub = voxel2pixel::worker::v1::Worker::NewStub(h->channel);
  return h;
}

absl::StatusOr<std::unique_ptr<WorkerPool>> WorkerPool::Create(Options options) {
  if (options.spawn == 0 && options.addresses.empty() && options.dns_name.empty()) {
    return absl::InvalidArgumentError("worker pool has no workers");
  }
  std::unique_ptr<WorkerPool> pool(new WorkerPool(std::move(options)));
  const Options& o = pool->options_;
  if (!o.dns_name.empty()) {
    // Workers may come up after the gateway: an empty answer is not an
    // error, requests wait (up to their deadline) for the next resolution.
    pool->Resolve();
    pool->supervisors_.emplace_back([p = pool.get()] {
      while (true) {
        {
          absl::MutexLock lock(&p->mu_);
          if (p->mu_.AwaitWithTimeout(absl::Condition(&p->stopping_), p->options_.dns_refresh))
            return;
        }
        p->Resolve();
      }
    });
    return pool;
  }
  if (o.spawn == 0) {
    absl::MutexLock lock(&pool->mu_);
    for (const std::string& address : o.addresses) pool->AddRemoteWorker(address);
    return pool;
  }
  {
    absl::MutexLock lock(&pool->mu_);
    pool->slots_.resize(o.spawn);
  }
  for (int i = 0; i < o.spawn; ++i) {
    if (absl::Status s = pool->StartOne(i); !s.ok()) return s;  // ~WorkerPool cleans up
  }
  pool->NotifyChange();
  for (int i = 0; i < o.spawn; ++i)
    pool->supervisors_.emplace_back(&WorkerPool::Supervise, pool.get(), i);
  return pool;
}

absl::Status WorkerPool::StartOne(int slot) {
  std::vector<std::string> argv = {options_.worker_binary, "--repo=" + options_.repository,
                                   "--port=0"};
  argv.insert(argv.end(), options_.worker_args.begin(), options_.worker_args.end());
  if (!options_.devices.empty()) {
    argv.push_back("--device=" + options_.devices[slot % options_.devices.size()]);
  }
  auto child = SpawnWithReadyFd(argv, options_.start_timeout);
  if (!child.ok()) return child.status();
  const std::string address = absl::StrCat("127.0.0.1:", child->port);
  absl::MutexLock lock(&mu_);
  // The destructor has already signalled the others.
  if (stopping_) kill(child->pid, SIGTERM);
  Slot& s = slots_[slot];
  s.pid = child->pid;
  s.handle = Connect(address, child->pid, slot);
  s.serving = true;  // it has just answered (SpawnWithReadyFd)
  s.health_reports = 0;
  s.watch = WatchHealth(s.handle);
  Log(absl::StrCat(
      "worker ", slot, " ready at ", address, " (pid ", child->pid, ")",
      child->metrics_port > 0 ? absl::StrCat(", metrics on port ", child->metrics_port) : ""));
  return absl::OkStatus();
}

void WorkerPool::Supervise(int slot) {
  absl::Duration backoff = absl::Milliseconds(100);
  while (true) {
    pid_t pid;
    {
      absl::MutexLock lock(&mu_);
      pid = slots_[slot].pid;
    }
    if (pid > 0) {
      int status = 0;
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      std::unique_ptr<HealthWatch> dead_watch;  // destroyed after the lock
      absl::MutexLock lock(&mu_);
      dead_watch = std::move(slots_[slot].watch);
      slots_[slot].handle.reset();
      slots_[slot].serving = false;
      slots_[slot].health_reports = 0;
      slots_[slot].pid = 0;
      if (stopping_) return;
      ++slots_[slot].restarts;
      Log(absl::StrCat("worker ", slot, " (pid ", pid, ") died: ", DescribeExit(status),
                       "; restarting"));
    }
    NotifyChange();
    if (absl::Status s = StartOne(slot); s.ok()) {
      NotifyChange();
      backoff = absl::Milliseconds(100);
      continue;
    } else {
      Log(absl::StrCat("worker ", slot, " failed to start: ", s.ToString(), "; retrying in ",
                       absl::FormatDuration(backoff)));
    }
    absl::MutexLock lock(&mu_);
    // Sleeps for the backoff unless the pool is stopping.
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), backoff);
    if (stopping_) return;
    backoff = std::min(backoff * 2, options_.max_restart_backoff);
  }
}

WorkerPool::~WorkerPool() {
  // Health streams end first: a worker draining on SIGTERM waits for
  // every call in flight, and would wait its whole grace for a Watch.
  std::vector<std::unique_ptr<HealthWatch>> watches;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (Slot& s : slots_) watches.push_back(std::move(s.watch));
  }
  watches.clear();  // without the lock: their threads take it to report
  {
    absl::MutexLock lock(&mu_);
    for (const Slot& s : slots_) {
      if (s.pid > 0) kill(s.pid, SIGTERM);
    }
  }
  for (auto& t : supervisors_) t.join();
  // Watches of workers started while stopping; destroyed after the lock.
  absl::MutexLock lock(&mu_);
  for (Slot& s : slots_) {
    watches.push_back(std::move(s.watch));
    // Workers started by Create() whose supervisor never ran.
    if (s.pid > 0) waitpid(s.pid, nullptr, 0);
  }
}

std::unique_ptr<HealthWatch> WorkerPool::WatchHealth(std::shared_ptr<WorkerHandle> handle) {
  // The callback keeps the handle alive, so no later handle can reuse its
  // address while a report for it may be pending.
  return std::make_unique<HealthWatch>(
      handle->channel, "", [this, handle](bool serving) { SetServing(handle.get(), serving); });
}

void WorkerPool::AddRemoteWorker(const std::string& address) {
  Slot s;
  s.handle = Connect(address, 0, static_cast<int>(slots_.size()));
  s.watch = WatchHealth(s.handle);
  slots_.push_back(std::move(s));
}

void WorkerPool::SetServing(const WorkerHandle* handle, bool serving) {
  bool changed = false;
  {
    absl::MutexLock lock(&mu_);
    for (Slot& s : slots_) {
      if (s.handle.get() != handle) continue;
      ++s.health_reports;
      if (s.serving == serving) continue;
      s.serving = serving;
      changed = true;
    }
  }
  if (!changed) return;
  Log(absl::StrCat("worker ", handle->address, serving ? " serves" : " does not serve",
                   " (grpc.health.v1)"));
  NotifyChange();
}

std::shared_ptr<WorkerHandle> WorkerPool::BestReady(const WorkerHandle* skip,
                                                    const std::string& model) const {
  std::shared_ptr<WorkerHandle> best, best_holder;
  for (const Slot& s : slots_) {
    if (!s.ready() || s.handle.get() == skip) continue;
    if (!best || s.handle->outstanding < best->outstanding) best = s.handle;
    if (!model.empty() && s.handle->Holds(model) &&
        (!best_holder || s.handle->outstanding < best_holder->outstanding)) {
      best_holder = s.handle;
    }
  }
  if (best_holder && best_holder->outstanding <= best->outstanding + 1) return best_holder;
  return best;
}

absl::StatusOr<std::shared_ptr<WorkerHandle>> WorkerPool::Acquire(absl::Time deadline,
                                                                  const WorkerHandle* avoid,
                                                                  const std::string& model) {
  absl::MutexLock lock(&mu_);
  auto other_ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || BestReady(avoid, model) != nullptr;
  };
  auto any_ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || BestReady(nullptr, model) != nullptr;
  };
  if (avoid != nullptr) {
    mu_.AwaitWithDeadline(absl::Condition(&other_ready),
                          std::min(deadline, absl::Now() + options_.avoid_grace));
    if (auto other = BestReady(avoid, model)) return other;
  }
  mu_.AwaitWithDeadline(absl::Condition(&any_ready), deadline);
  if (auto best = BestReady(nullptr, model)) return best;
  return absl::UnavailableError("no worker is ready (all are starting or restarting)");
}

std::shared_ptr<WorkerHandle> WorkerPool::TryAcquire(const WorkerHandle* avoid,
                                                     const std::string& model) const {
  absl::MutexLock lock(&mu_);
  return BestReady(avoid, model);
}

void WorkerPool::Resolve() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  // A dual-stack headless service gives each pod an IPv4 and an IPv6
  // address: take one family, IPv4 when there is any, so that no worker
  // is counted twice; an IPv6-only cluster gets its IPv6 addresses.
  std::vector<std::string> v4, v6;
  if (getaddrinfo(options_.dns_name.c_str(), nullptr, &hints, &result) == 0) {
    for (addrinfo* a = result; a != nullptr; a = a->ai_next) {
      char ip[INET6_ADDRSTRLEN];
      std::string address;
      if (a->ai_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr, ip,
                  sizeof(ip));
        address = absl::StrCat(ip, ":", options_.dns_port);
      } else if (a->ai_family == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr, ip,
                  sizeof(ip));
        address = absl::StrCat("[", ip, "]:", options_.dns_port);
      } else {
        continue;
      }
      std::vector<std::string>& family = a->ai_family == AF_INET ? v4 : v6;
      if (std::find(family.begin(), family.end(), address) == family.end())
        family.push_back(address);
    }
    freeaddrinfo(result);
  }
  const std::vector<std::string>& found = v4.empty() ? v6 : v4;
  bool changed = false;
  std::vector<std::unique_ptr<HealthWatch>> gone;  // destroyed after the lock
  {
    absl::MutexLock lock(&mu_);
    // Vanished workers leave; calls already using them keep their handle.
    const size_t before = slots_.size();
    auto vanished = std::stable_partition(slots_.begin(), slots_.end(), [&](const Slot& s) {
      return std::find(found.begin(), found.end(), s.handle->address) != found.end();
    });
    for (auto it = vanished; it != slots_.end(); ++it) gone.push_back(std::move(it->watch));
    slots_.erase(vanished, slots_.end());
    changed = slots_.size() != before;
    for (const std::string& address : found) {
      const bool known = std::any_of(slots_.begin(), slots_.end(),
                                     [&](const Slot& s) { return s.handle->address == address; });
      if (!known) {
        AddRemoteWorker(address);
        changed = true;
      }
    }
  }
  if (changed) {
    Log(absl::StrCat(options_.dns_name, " resolves to ", found.size(), " worker(s)"));
    NotifyChange();
  }
}

void WorkerPool::NotifyChange() {
  if (!options_.on_change) return;
  // One report at a time, each counting afresh: reports arrive in order.
  absl::MutexLock lock(&notify_mu_);
  int ready = 0;
  for (const SlotState& s : Slots()) ready += s.ready;
  options_.on_change(ready);
}

std::vector<std::shared_ptr<WorkerHandle>> WorkerPool::ReadyWorkers() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<WorkerHandle>> out;
  for (const Slot& s : slots_) {
    if (s.ready()) out.push_back(s.handle);
  }
  return out;
}

std::vector<WorkerPool::SlotState> WorkerPool::Slots() const {
  absl::MutexLock lock(&mu_);
  std::vector<SlotState> out;
  for (const Slot& s : slots_) {
    out.push_back(
        {s.handle ? s.handle->address : "", s.pid, s.ready(), s.restarts, s.health_reports});
  }
  return out;
}

}  // namespace v2p::server
