// The pipelines a worker has loaded, by model name and version. A request
// gets a std::shared_ptr<const Pipeline> and keeps it for its whole run,
// so a reload never disturbs a request in flight. Thread-safe.
#ifndef V2P_WORKERS_MODEL_REGISTRY_H_
#define V2P_WORKERS_MODEL_REGISTRY_H_

#include <functional>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/pipeline/manifest.h"
#include "core/pipeline/model_repository.h"
#include "core/pipeline/pipeline.h"

namespace v2p::worker {

class ModelRegistry {
 public:
  struct Options {
    std::string repository;
    // How long "latest version" answers are reused before the repository is
    // listed again, so that requests do not scan the disk each time.
    absl::Duration latest_refresh = absl::Seconds(2);
    // Called with the number of loaded versions after each load and unload.
    std::function<void(int loaded)> on_loaded_count;
    // Called with each version as it loads, under the registry's lock, before
    // any caller gets it: the worker starts serving it (Batcher::Start).
    std::function<void(const std::shared_ptr<const core::Pipeline>&)> on_load;
    // Called with each version unloaded, after the registry has let go of
    // it and outside its lock: the worker stops serving it
    // (Batcher::Release, which waits for its queued requests).
    std::function<void(const std::shared_ptr<const core::Pipeline>&)> on_unload;
  };
  static absl::StatusOr<std::unique_ptr<ModelRegistry>> Create(const Options& options);

  // version 0 = latest. Loads on first use. NOT_FOUND for unknown models or
  // versions (naming what exists); DATA_LOSS for a corrupt artifact.
  absl::StatusOr<std::shared_ptr<const core::Pipeline>> Get(const std::string& name,
                                                            int64_t version);
  // The pipeline Get would return when it is loaded already (no load, no
  // wait for one), else null; for callers that must not block.
  std::shared_ptr<const core::Pipeline> GetIfLoaded(const std::string& name, int64_t version);

  struct ModelInfo {
    core::ModelManifest manifest;  // version filled in
    std::vector<int64_t> versions;
    std::string spec_text;
    std::vector<float> mean_image;  // empty when the artifact has none
  };
  // Reads the manifest without loading weights.
  absl::StatusOr<ModelInfo> Describe(const std::string& name, int64_t version) const;
  // The latest version of every model; unreadable ones are skipped.
  std::vector<ModelInfo> DescribeAll() const;
  // Forgets loaded versions of `name` (version 0 = all), calling on_unload
  // with each, then hands freed memory back to the system (malloc_trim);
  // requests holding one finish with it.
  void Unload(const std::string& name, int64_t version);
  // "name/version" of each loaded pipeline.
  std::vector<std::string> Loaded() const;

  const core::ModelRepository& repository() const { return *repository_; }

 private:
  ModelRegistry(Options options, std::unique_ptr<core::ModelRepository> repository)
      : options_(std::move(options)), repository_(std::move(repository)) {}
  absl::StatusOr<int64_t> ResolveVersion(const std::string& name, int64_t version);
  using LoadResult = absl::StatusOr<std::shared_ptr<const core::Pipeline>>;
  LoadResult LoadAndWarmUp(const std::string& name, int64_t version) const;

  const Options options_;
  const std::unique_ptr<core::ModelRepository> repository_;
  mutable absl::Mutex mu_;
  std::map<std::pair<std::string, int64_t>, std::shared_ptr<const core::Pipeline>> loaded_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::pair<int64_t, absl::Time>> latest_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, int64_t>, std::shared_future<LoadResult>> loading_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace v2p::worker

#endif  // V2P_WORKERS_MODEL_REGISTRY_H_
