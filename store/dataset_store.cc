#include "store/dataset_store.h"

#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "store/files.h"
#include "store/names.h"
#include "store/sha256.h"

namespace v2p::store {
namespace {

namespace fs = std::filesystem;
constexpr char kRecordFile[] = "dataset.binpb";

}  // namespace

absl::StatusOr<std::unique_ptr<DatasetStore>> DatasetStore::Open(const std::string& root) {
  std::error_code ec;
  fs::create_directories(root + "/datasets", ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", root, "/datasets"));
  return std::unique_ptr<DatasetStore>(new DatasetStore(root));
}

absl::StatusOr<DatasetStore::Staging> DatasetStore::BeginUpload() {
  Staging s;
  s.relative = absl::StrCat("datasets/.tmp-", RandomHex(8));
  s.absolute = root_ + "/" + s.relative;
  std::error_code ec;
  fs::create_directories(s.absolute, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", s.absolute));
  return s;
}

absl::Status DatasetStore::Commit(const Staging& staging, const voxel2pixel::v1::Dataset& dataset) {
  if (absl::Status s = WriteProto(staging.absolute + "/" + kRecordFile, dataset); !s.ok()) {
    Abort(staging);
    return s;
  }
  const std::string target = root_ + "/" + RelativeDir(dataset.name());
  if (std::rename(staging.absolute.c_str(), target.c_str()) != 0) {
    Abort(staging);
    return absl::AlreadyExistsError(absl::StrCat("dataset '", dataset.name(), "' already exists"));
  }
  return absl::OkStatus();
}

void DatasetStore::Abort(const Staging& staging) {
  std::error_code ec;
  fs::remove_all(staging.absolute, ec);
}

bool DatasetStore::Exists(const std::string& name) const {
  return ValidateName(name, "dataset name").ok() &&
         fs::exists(root_ + "/" + RelativeDir(name) + "/" + kRecordFile);
}

absl::StatusOr<voxel2pixel::v1::Dataset> DatasetStore::Get(const std::string& name) const {
  if (absl::Status s = ValidateName(name, "dataset name"); !s.ok()) return s;
  voxel2pixel::v1::Dataset d;
  absl::Status s = ReadProto(root_ + "/" + RelativeDir(name) + "/" + kRecordFile, &d);
  if (absl::IsNotFound(s))
    return absl::NotFoundError(absl::StrCat("no dataset named '", name, "'"));
  if (!s.ok()) return s;
  return d;
}

absl::StatusOr<voxel2pixel::v1::Dataset> DatasetStore::GetVerified(const std::string& name) const {
  auto d = Get(name);
  if (!d.ok() || d->sha256().empty()) return d;
  const std::string file = RelativeDir(name) + "/" + kDatasetDataFile;
  auto sum = Sha256OfFile(root_ + "/" + file);
  if (!sum.ok()) return absl::FailedPreconditionError(absl::StrCat(file, " is missing"));
  if (*sum != d->sha256()) {
    return absl::FailedPreconditionError(absl::StrCat(file, " is damaged: its SHA-256 is ",
                                                      sum->substr(0, 12), "…, the upload's was ",
                                                      d->sha256().substr(0, 12), "…"));
  }
  return d;
}

std::vector<voxel2pixel::v1::Dataset> DatasetStore::List() const {
  std::vector<voxel2pixel::v1::Dataset> out;
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(root_ + "/datasets", ec)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    auto d = Get(n);
    if (d.ok()) out.push_back(*std::move(d));
  }
  return out;
}

absl::Status DatasetStore::Delete(const std::string& name) {
  if (!Exists(name)) return absl::NotFoundError(absl::StrCat("no dataset named '", name, "'"));
  const std::string doomed = absl::StrCat(root_, "/datasets/.deleted-", RandomHex(8));
  if (std::rename((root_ + "/" + RelativeDir(name)).c_str(), doomed.c_str()) != 0) {
    return absl::NotFoundError(absl::StrCat("no dataset named '", name, "'"));
  }
  std::error_code ec;
  fs::remove_all(doomed, ec);
  return absl::OkStatus();
}

}  // namespace v2p::store
