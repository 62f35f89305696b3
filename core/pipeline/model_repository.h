// The model repository on disk (DESIGN §2):
//   <root>/models/<name>/<version>/{manifest.txt, pipeline_spec.pbtxt, ...}
// Versions are positive integers; a new version appears atomically (written
// into a temporary directory beside it, then renamed), so a reader never
// sees a half-written model. Thread-safe; several processes may share one
// root (a shared volume): concurrent writers get distinct versions.
#ifndef V2P_CORE_PIPELINE_MODEL_REPOSITORY_H_
#define V2P_CORE_PIPELINE_MODEL_REPOSITORY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace v2p::core {

// Model names are 1-64 characters of [A-Za-z0-9_.-], not starting with '.'
// or '-': they become directory names and must not escape the repository.
absl::Status ValidateModelName(const std::string& name);

class ModelRepository {
 public:
  struct Options {
    std::string root;
    // Create <root>/<collection> when missing (a writer); readers leave it
    // false.
    bool create = false;
    // The folder under root holding this kind of versioned artifact, and
    // the file whose presence marks a committed version: models
    // (manifest.txt) or feature networks ("feature_networks",
    // "network.txt"), with the same atomic versioning.
    std::string collection = "models";
    std::string marker_file = "manifest.txt";
  };
  static absl::StatusOr<std::unique_ptr<ModelRepository>> Open(const Options& options);

  const std::string& root() const { return root_; }

  // Names of models with at least one committed version, sorted.
  std::vector<std::string> ListModels() const;
  // Committed versions of `name`, ascending; NOT_FOUND when there are none.
  absl::StatusOr<std::vector<int64_t>> ListVersions(const std::string& name) const;
  // version 0 means the latest. NOT_FOUND names what exists.
  absl::StatusOr<int64_t> ResolveVersion(const std::string& name, int64_t version) const;
  std::string VersionDir(const std::string& name, int64_t version) const;
  // VersionDir after checking the SHA-256 of every file the version's
  // checksums.txt lists (core/base/checksums.h): FAILED_PRECONDITION
  // naming the damaged or missing file, relative to the repository.
  // What a loader calls.
  absl::StatusOr<std::string> VerifiedVersionDir(const std::string& name, int64_t version) const;

  // Creates the next version of `name`: `write` fills an empty temporary
  // directory; when it succeeds its files' checksums are written beside
  // them (checksums.txt) and the directory becomes <name>/<version>.
  // On failure nothing is left behind. Returns the new version.
  absl::StatusOr<int64_t> CommitVersion(
      const std::string& name, const std::function<absl::Status(const std::string& dir)>& write);

 private:
  ModelRepository(std::string root, const Options& options)
      : root_(std::move(root)),
        collection_(options.collection),
        marker_file_(options.marker_file) {}
  std::string ModelsDir() const { return root_ + "/" + collection_; }
  // Version directories holding a manifest, ascending; no validation.
  std::vector<int64_t> CommittedVersions(const std::string& name) const;

  std::string root_;
  std::string collection_;
  std::string marker_file_;
};

// The repository's collection of feature networks (core/features):
// <root>/feature_networks/<name>/<version>/network.txt.
absl::StatusOr<std::unique_ptr<ModelRepository>> OpenFeatureNetworkRepository(
    const std::string& root, bool create);

// The repository's collection of image generators (core/generation):
// <root>/generators/<name>/<version>/generator.txt.
absl::StatusOr<std::unique_ptr<ModelRepository>> OpenGeneratorRepository(const std::string& root,
                                                                         bool create);
// A stored generator records what conditions it in this file: the text of
// GeneratorCondition() for the feature network ("name/version") and the
// layers whose units it takes, in order. A pipeline may use the generator
// only when its own condition text is the same.
inline constexpr char kGeneratorConditionFile[] = "condition.txt";
std::string GeneratorCondition(const std::string& network_id,
                               const std::vector<std::string>& layers);

}  // namespace v2p::core

#endif  // V2P_CORE_PIPELINE_MODEL_REPOSITORY_H_
