// Runs training jobs (google.longrunning operations in the repository) on
// this worker. A scheduler thread claims queued jobs and jobs whose lease
// is void (their worker died), renews the leases of the jobs it runs, and
// starts each job on its own thread, at most max_concurrent_jobs at once,
// apart from the threads that serve reconstructions. A job resumes from
// its checkpoints; progress goes into the operation's metadata.
#ifndef V2P_WORKERS_JOB_RUNNER_H_
#define V2P_WORKERS_JOB_RUNNER_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "store/dataset_store.h"
#include "store/operation_store.h"

namespace v2p::worker {

class JobRunner {
 public:
  struct Options {
    std::string repository;
    std::string owner;  // default: OperationStore::ThisProcessOwner()
    absl::Duration poll_interval = absl::Milliseconds(500);
    absl::Duration lease_ttl = absl::Seconds(10);
    int max_concurrent_jobs = 1;
  };
  // Starts the scheduler thread.
  static absl::StatusOr<std::unique_ptr<JobRunner>> Create(Options options);
  // Stops claiming, asks running jobs to stop at their next step and
  // releases their leases (another worker resumes them from checkpoints).
  ~JobRunner();

 private:
  struct Running {
    std::thread thread;
    std::atomic<bool> lost{false};
    std::atomic<bool> finished{false};
  };

  explicit JobRunner(Options options) : options_(std::move(options)) {}
  void Schedule();
  void RunJob(const std::string& id, Running* running);
  // Releases this worker's lease on the job, logging a failure.
  void ReleaseLease(const std::string& id);
  absl::Status Train(const std::string& id, Running* running, google::longrunning::Operation* op);

  const Options options_;
  std::unique_ptr<store::OperationStore> operations_;
  std::unique_ptr<store::DatasetStore> datasets_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, std::unique_ptr<Running>> running_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> stop_jobs_{false};
  std::thread scheduler_;
};

}  // namespace v2p::worker

#endif  // V2P_WORKERS_JOB_RUNNER_H_
