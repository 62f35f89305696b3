// What `v2p datasets upload` sends: an uploaded dataset is one file the
// service reads (MATLAB or NumPy), so a description that reads several
// files (sources: NIfTI betas with a mask, BData regions, folders of
// images) or a format the service refuses (BData, NIfTI) is bundled here,
// on the lab's machine: every variable it names is read as a worker would
// read it and written to one MATLAB v5 file, and the description is
// rewritten to name them there ("bold:betas" becomes "bold_betas").
#ifndef V2P_CLIENT_DATASET_BUNDLE_H_
#define V2P_CLIENT_DATASET_BUNDLE_H_

#include <string>

#include "absl/status/statusor.h"
#include "voxel2pixel/v1/pipeline_spec.pb.h"

namespace v2p::client {

struct UploadFile {
  voxel2pixel::v1::DatasetDescription description;  // names `path`'s variables
  std::string path;                                 // the file to send
  bool bundled = false;                             // `path` is a bundle in a temporary folder
  int num_files = 1;                                // files and folders the bundle was read from
  int num_variables = 0;                            // variables in the bundle
};

// The description's own file, unchanged, when it names no sources and
// that file is MATLAB or NumPy; otherwise a bundle written under
// `scratch_dir`. `data_root` resolves relative paths, as for local
// training. Errors as loading the dataset locally would give (a missing
// file, variable or mask; an image folder that does not decode).
absl::StatusOr<UploadFile> PrepareUpload(const voxel2pixel::v1::DatasetDescription& description,
                                         const std::string& data_root,
                                         const std::string& scratch_dir);

}  // namespace v2p::client

#endif  // V2P_CLIENT_DATASET_BUNDLE_H_
