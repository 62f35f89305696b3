#include "client/dataset_bundle.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/base/status_macros.h"
#include "core/data/dataset.h"
#include "core/data/mat_file.h"
#include "workers/dataset_options.h"

namespace v2p::client {
namespace {

namespace v1 = voxel2pixel::v1;

// Every variable field of a description, to rename in place.
std::vector<std::string*> VariableFields(v1::DatasetDescription* d) {
  return {d->mutable_train()->mutable_betas(),  d->mutable_train()->mutable_stimuli(),
          d->mutable_train()->mutable_labels(), d->mutable_test()->mutable_betas(),
          d->mutable_test()->mutable_stimuli(), d->mutable_test()->mutable_labels(),
          d->mutable_unpaired_images(),         d->mutable_test_trials()->mutable_variable()};
}

// MATLAB v5 or v7.3, .npy or .npz: what the service reads from an upload.
bool ServiceReads(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::string head(8, '\0');
  f.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(f.gcount()));
  return absl::StartsWith(head, "MATLAB") || absl::StartsWith(head, "\x93NUMPY") ||
         absl::StartsWith(head, "PK");
}

// Names in the bundle: plain names stay; "<source>:<name>" becomes
// "<source>_<name>", cut to MATLAB's 63 characters and numbered when taken.
std::map<std::string, std::string> BundleNames(const std::map<std::string, Eigen::MatrixXd>& vars) {
  std::map<std::string, std::string> names;
  std::set<std::string> taken;
  for (const auto& [ref, m] : vars)
    if (!absl::StrContains(ref, ':')) taken.insert(names[ref] = ref);
  for (const auto& [ref, m] : vars) {
    if (names.count(ref) > 0) continue;
    const std::string base = absl::StrReplaceAll(ref, {{":", "_"}}).substr(0, 56);
    std::string name = base;
    for (int i = 2; taken.count(name) > 0; ++i) name = absl::StrCat(base, "_", i);
    taken.insert(names[ref] = name);
  }
  return names;
}

}  // namespace

absl::StatusOr<UploadFile> PrepareUpload(const v1::DatasetDescription& description,
                                         const std::string& data_root,
                                         const std::string& scratch_dir) {
  ASSIGN_OR_RETURN(const core::DatasetOptions options,
                   worker::ToDatasetOptions(description, data_root));
  UploadFile upload;
  upload.description = description;
  if (description.sources().empty() && std::filesystem::is_regular_file(options.file) &&
      ServiceReads(options.file)) {
    upload.path = options.file;
    return upload;
  }
  ASSIGN_OR_RETURN(const auto variables, core::ReadDatasetVariables(options));
  const std::map<std::string, std::string> names = BundleNames(variables);
  std::vector<std::pair<std::string, Eigen::MatrixXd>> bundle;
  for (const auto& [ref, m] : variables) bundle.emplace_back(names.at(ref), m);
  upload.path = (std::filesystem::path(scratch_dir) / "bundle.mat").string();
  RETURN_IF_ERROR(core::WriteMatFile(upload.path, bundle));
  for (std::string* field : VariableFields(&upload.description))
    if (!field->empty()) *field = names.at(*field);
  upload.description.clear_sources();
  upload.description.set_file("bundle.mat");
  upload.bundled = true;
  upload.num_variables = static_cast<int>(bundle.size());
  upload.num_files = static_cast<int>(description.sources_size()) + (options.file.empty() ? 0 : 1);
  return upload;
}

}  // namespace v2p::client
