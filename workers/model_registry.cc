#include "workers/model_registry.h"

#include <malloc.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/base/files.h"
#include "core/base/log.h"
#include "core/base/status_macros.h"
#include "core/data/image.h"
#include "core/data/npy.h"
#include "core/methods/registry.h"

#include "workers/repository_paths.h"
namespace v2p::worker {

absl::StatusOr<std::unique_ptr<ModelRegistry>> ModelRegistry::Create(const Options& options) {
  ASSIGN_OR_RETURN(auto repo, core::ModelRepository::Open({options.repository, false}));
  return std::unique_ptr<ModelRegistry>(new ModelRegistry(options, std::move(repo)));
}

absl::StatusOr<int64_t> ModelRegistry::ResolveVersion(const std::string& name, int64_t version) {
  if (version != 0) return repository_->ResolveVersion(name, version);
  const absl::Time now = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    auto it = latest_.find(name);
    if (it != latest_.end() && now - it->second.second < options_.latest_refresh) {
      return it->second.first;
    }
  }
  ASSIGN_OR_RETURN(const int64_t latest, repository_->ResolveVersion(name, 0));
  absl::MutexLock lock(&mu_);
  latest_[name] = {latest, now};
  return latest;
}

std::shared_ptr<const core::Pipeline> ModelRegistry::GetIfLoaded(const std::string& name,
                                                                 int64_t version) {
  if (!core::ValidateModelName(name).ok()) return nullptr;
  const absl::StatusOr<int64_t> v = ResolveVersion(name, version);
  if (!v.ok()) return nullptr;
  absl::MutexLock lock(&mu_);
  auto it = loaded_.find(std::make_pair(name, *v));
  return it == loaded_.end() ? nullptr : it->second;
}

absl::StatusOr<std::shared_ptr<const core::Pipeline>> ModelRegistry::Get(const std::string& name,
                                                                         int64_t version) {
  RETURN_IF_ERROR(core::ValidateModelName(name));
  ASSIGN_OR_RETURN(const int64_t v, ResolveVersion(name, version));
  const auto key = std::make_pair(name, v);
  // One load per model version at a time: callers arriving while it loads
  // wait for that load instead of reading the same weights again.
  std::promise<LoadResult> promise;
  std::shared_future<LoadResult> pending;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = loaded_.find(key); it != loaded_.end()) return it->second;
    if (auto it = loading_.find(key); it != loading_.end()) {
      pending = it->second;
    } else {
      loading_[key] = promise.get_future().share();
    }
  }
  if (pending.valid()) return pending.get();
  LoadResult result = LoadAndWarmUp(name, v);
  malloc_trim(0);
  {
    absl::MutexLock lock(&mu_);
    loading_.erase(key);
    if (result.ok()) {
      if (options_.on_load) options_.on_load(*result);
      loaded_.emplace(key, *result);
      if (options_.on_loaded_count) options_.on_loaded_count(static_cast<int>(loaded_.size()));
    }
  }
  promise.set_value(result);
  return result;
}

namespace {

// A version whose files do not load (or whose warm-up throws in a library)
// is the repository's state, not the caller's error: FAILED_PRECONDITION,
// naming the file relative to the repository.
absl::Status NotServable(const std::string& root, const std::string& name, int64_t v,
                         const absl::Status& s) {
  if (s.code() != absl::StatusCode::kDataLoss && s.code() != absl::StatusCode::kInternal) return s;
  return absl::FailedPreconditionError(
      absl::StrCat("model ", name, " version ", v,
                   " cannot be served: ", RelativeToRepository(s.message(), root)));
}

}  // namespace

ModelRegistry::LoadResult ModelRegistry::LoadAndWarmUp(const std::string& name, int64_t v) const {
  auto dir = repository_->VerifiedVersionDir(name, v);
  if (!dir.ok()) return NotServable(repository_->root(), name, v, dir.status());
  auto pipeline = core::LoadPipeline(*dir, v);
  if (!pipeline.ok()) return NotServable(repository_->root(), name, v, pipeline.status());
  // Warm-up: one batch of zeros through every stage before the model is
  // handed out, so that the first real sample does not pay for first-touch
  // page faults and lazy initialisation.
  if (absl::Status s =
          (*pipeline)->Run(Eigen::MatrixXf::Zero(1, (*pipeline)->num_voxels())).status();
      !s.ok())
    return NotServable(repository_->root(), name, v, s);
  const auto& loaded = *pipeline;
  core::LogInfo("registry", "loaded ", name, "/", v, ": ", loaded->manifest().description,
                loaded->decode_rank() > 0
                    ? absl::StrCat("; decodes through W factored at rank ", loaded->decode_rank())
                    : "");
  return loaded;
}

absl::StatusOr<ModelRegistry::ModelInfo> ModelRegistry::Describe(const std::string& name,
                                                                 int64_t version) const {
  ModelInfo info;
  ASSIGN_OR_RETURN(info.versions, repository_->ListVersions(name));
  ASSIGN_OR_RETURN(const int64_t v, repository_->ResolveVersion(name, version));
  const std::string dir = repository_->VersionDir(name, v);
  ASSIGN_OR_RETURN(info.manifest, core::ReadManifest(dir + "/" + core::kManifestFile));
  info.manifest.version = v;
  auto spec = core::ReadFile(dir + "/" + core::kSpecFile);
  if (spec.ok()) info.spec_text = *std::move(spec);
  if (auto mean = core::ReadNpy(dir + "/" + core::kMeanImageFile); mean.ok()) {
    info.mean_image.assign(mean->values.begin(), mean->values.end());
  }
  return info;
}

std::vector<ModelRegistry::ModelInfo> ModelRegistry::DescribeAll() const {
  std::vector<ModelInfo> out;
  for (const std::string& name : repository_->ListModels()) {
    auto info = Describe(name, 0);
    if (info.ok()) {
      out.push_back(*std::move(info));
    } else {
      core::LogWarning("registry", "skipping model ", name, ": ", info.status().ToString());
    }
  }
  return out;
}

void ModelRegistry::Unload(const std::string& name, int64_t version) {
  std::vector<std::shared_ptr<const core::Pipeline>> unloaded;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = loaded_.begin(); it != loaded_.end();) {
      if (it->first.first == name && (version == 0 || it->first.second == version)) {
        unloaded.push_back(std::move(it->second));
        it = loaded_.erase(it);
      } else {
        ++it;
      }
    }
    latest_.erase(name);
    if (!unloaded.empty() && options_.on_loaded_count) {
      options_.on_loaded_count(static_cast<int>(loaded_.size()));
    }
  }
  if (options_.on_unload) {
    for (const auto& pipeline : unloaded) options_.on_unload(pipeline);
  }
  // Hands the freed memory back, as after a load, so that the worker's
  // resident size follows the models it holds.
  if (!unloaded.empty()) malloc_trim(0);
}

std::vector<std::string> ModelRegistry::Loaded() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [key, p] : loaded_) out.push_back(key.first + "/" + std::to_string(key.second));
  return out;
}

}  // namespace v2p::worker
