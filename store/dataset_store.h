// Uploaded datasets in the repository:
//   datasets/<name>/data.mat            the uploaded file
//   datasets/<name>/dataset.binpb       voxel2pixel.v1.Dataset (description, sha256, counts)
// A dataset appears whole or not at all (written under datasets/.tmp-*,
// then renamed). Thread-safe; processes may share a root.
#ifndef V2P_STORE_DATASET_STORE_H_
#define V2P_STORE_DATASET_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "voxel2pixel/v1/datasets.pb.h"

namespace v2p::store {

inline constexpr char kDatasetDataFile[] = "data.mat";

class DatasetStore {
 public:
  static absl::StatusOr<std::unique_ptr<DatasetStore>> Open(const std::string& root);

  // A fresh temporary directory for an upload in progress, relative to the
  // repository root and absolute.
  struct Staging {
    std::string relative;
    std::string absolute;
  };
  absl::StatusOr<Staging> BeginUpload();
  // Writes the record and renames the staging directory to the dataset's;
  // ALREADY_EXISTS if the name was taken meanwhile (staging is removed).
  absl::Status Commit(const Staging& staging, const voxel2pixel::v1::Dataset& dataset);
  void Abort(const Staging& staging);

  bool Exists(const std::string& name) const;
  absl::StatusOr<voxel2pixel::v1::Dataset> Get(const std::string& name) const;
  // Get, after checking that the stored file still has the SHA-256 its
  // upload was received with: FAILED_PRECONDITION naming it otherwise.
  absl::StatusOr<voxel2pixel::v1::Dataset> GetVerified(const std::string& name) const;
  std::vector<voxel2pixel::v1::Dataset> List() const;
  absl::Status Delete(const std::string& name);
  // The repository root.
  const std::string& root() const { return root_; }
  // Directory of a dataset, relative to the repository root.
  static std::string RelativeDir(const std::string& name) { return "datasets/" + name; }

 private:
  DatasetStore(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

}  // namespace v2p::store

#endif  // V2P_STORE_DATASET_STORE_H_
