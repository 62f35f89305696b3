#include "core/pipeline/model_repository.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "core/base/checksums.h"
#include "core/base/status_macros.h"
#include "core/pipeline/manifest.h"

namespace v2p::core {
namespace fs = std::filesystem;

absl::Status ValidateModelName(const std::string& name) {
  const bool ok_chars = std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '_' || c == '-' || c == '.';
  });
  if (name.empty() || name.size() > 64 || !ok_chars || name[0] == '.' || name[0] == '-') {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid model name '", name,
                     "': expected 1-64 characters of [A-Za-z0-9_.-] not "
                     "starting with '.' or '-'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ModelRepository>> ModelRepository::Open(const Options& options) {
  if (options.root.empty()) return absl::InvalidArgumentError("model repository path is empty");
  std::error_code ec;
  const fs::path root = fs::absolute(options.root, ec);
  if (options.collection.empty() || options.collection.find('/') != std::string::npos ||
      options.collection[0] == '.')
    return absl::InvalidArgumentError("collection must be a plain folder name");
  if (options.create) fs::create_directories(root / options.collection, ec);
  if (!fs::is_directory(root, ec)) {
    return absl::NotFoundError(absl::StrCat("model repository ", options.root, " does not exist"));
  }
  return std::unique_ptr<ModelRepository>(
      new ModelRepository(root.lexically_normal().string(), options));
}

std::vector<std::string> ModelRepository::ListModels() const {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(ModelsDir(), ec)) {
    const std::string name = entry.path().filename().string();
    if (ValidateModelName(name).ok() && !CommittedVersions(name).empty()) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<int64_t> ModelRepository::CommittedVersions(const std::string& name) const {
  std::vector<int64_t> versions;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(fs::path(ModelsDir()) / name, ec)) {
    int64_t v;
    if (absl::SimpleAtoi(entry.path().filename().string(), &v) && v > 0 &&
        fs::exists(entry.path() / marker_file_)) {
      versions.push_back(v);
    }
  }
  std::sort(versions.begin(), versions.end());
  return versions;
}

absl::StatusOr<std::vector<int64_t>> ModelRepository::ListVersions(const std::string& name) const {
  RETURN_IF_ERROR(ValidateModelName(name));
  std::vector<int64_t> versions = CommittedVersions(name);
  if (versions.empty()) {
    const std::vector<std::string> names = ListModels();
    return absl::NotFoundError(absl::StrCat(
        "no ", collection_ == "models" ? "model" : collection_, " named '", name,
        "' in the repository",
        names.empty() ? absl::StrCat(" (it holds no ", collection_, ")")
                      : absl::StrCat(" (", collection_, ": ", absl::StrJoin(names, ", "), ")")));
  }
  return versions;
}

absl::StatusOr<int64_t> ModelRepository::ResolveVersion(const std::string& name,
                                                        int64_t version) const {
  ASSIGN_OR_RETURN(const std::vector<int64_t> versions, ListVersions(name));
  if (version == 0) return versions.back();
  if (std::find(versions.begin(), versions.end(), version) == versions.end()) {
    return absl::NotFoundError(absl::StrCat("model '", name, "' has no version ", version,
                                            " (versions: ", absl::StrJoin(versions, ", "), ")"));
  }
  return version;
}

std::string ModelRepository::VersionDir(const std::string& name, int64_t version) const {
  return absl::StrCat(ModelsDir(), "/", name, "/", version);
}

absl::StatusOr<std::string> ModelRepository::VerifiedVersionDir(const std::string& name,
                                                                int64_t version) const {
  RETURN_IF_ERROR(ValidateModelName(name));
  const std::string dir = VersionDir(name, version);
  RETURN_IF_ERROR(VerifyChecksums(dir, absl::StrCat(collection_, "/", name, "/", version)));
  return dir;
}

absl::StatusOr<int64_t> ModelRepository::CommitVersion(
    const std::string& name, const std::function<absl::Status(const std::string& dir)>& write) {
  RETURN_IF_ERROR(ValidateModelName(name));
  static std::atomic<uint64_t> counter{0};
  const fs::path model_dir = fs::path(ModelsDir()) / name;
  std::error_code ec;
  fs::create_directories(model_dir, ec);
  if (ec)
    return absl::InternalError(
        absl::StrCat("cannot create ", model_dir.string(), ": ", ec.message()));
  const fs::path tmp = model_dir / absl::StrCat(".tmp-", getpid(), "-", counter++, "-",
                                                absl::ToUnixNanos(absl::Now()));
  fs::create_directory(tmp, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("cannot create ", tmp.string(), ": ", ec.message()));
  absl::Status written = write(tmp.string());
  if (written.ok()) written = WriteChecksums(tmp.string());
  if (!written.ok()) {
    fs::remove_all(tmp, ec);
    return written;
  }
  // rename(2) of a directory onto an existing non-empty one fails, so a
  // concurrent writer that took this number first makes us try the next.
  auto versions = ListVersions(name);
  int64_t next = versions.ok() ? versions->back() + 1 : 1;
  for (int attempt = 0; attempt < 1000; ++attempt, ++next) {
    const fs::path target = model_dir / std::to_string(next);
    if (std::rename(tmp.c_str(), target.c_str()) == 0) return next;
    if (errno != EEXIST && errno != ENOTEMPTY) {
      const std::string why = std::strerror(errno);
      fs::remove_all(tmp, ec);
      return absl::InternalError(absl::StrCat("cannot commit ", target.string(), ": ", why));
    }
  }
  fs::remove_all(tmp, ec);
  return absl::AbortedError(absl::StrCat("could not find a free version for model ", name));
}

absl::StatusOr<std::unique_ptr<ModelRepository>> OpenFeatureNetworkRepository(
    const std::string& root, bool create) {
  ModelRepository::Options o;
  o.root = root;
  o.create = create;
  o.collection = "feature_networks";
  o.marker_file = "network.txt";
  return ModelRepository::Open(o);
}

std::string GeneratorCondition(const std::string& network_id,
                               const std::vector<std::string>& layers) {
  return absl::StrCat("network: ", network_id, "\nlayers: ", absl::StrJoin(layers, ","), "\n");
}

absl::StatusOr<std::unique_ptr<ModelRepository>> OpenGeneratorRepository(const std::string& root,
                                                                         bool create) {
  ModelRepository::Options o;
  o.root = root;
  o.create = create;
  o.collection = "generators";
  o.marker_file = kGeneratorConditionFile;  // every kind writes one
  return ModelRepository::Open(o);
}

}  // namespace v2p::core
