// Named numeric matrices from the files labs keep betas and stimuli in,
// behind one interface, chosen by each file's content (not its name):
//   - MATLAB v5 and v7.3 (HDF5) .mat files: their variables (mat_file.h);
//   - NumPy .npz archives: their members, named without ".npy"; a .npy
//     file: one variable named after the file ("betas.npy" -> "betas");
//   - bdpy BData HDF5 files (/dataSet, /metaData/{key,description,value}):
//     a variable per metadata key, holding the columns of /dataSet whose
//     value for that key is 1, so that a region of interest is selected by
//     its name ("ROI_V1", "VoxelData", "Label");
//   - NIfTI-1 and NIfTI-2 volumes (.nii, .nii.gz), read by libnifti2: one
//     variable, "betas", a trial per 4th-dimension index and a column per
//     voxel of the mask volume (MatrixFileOptions::mask; every voxel
//     without one) that is non-zero, in the file's storage order: x
//     fastest, then y, then z. WriteNiftiBetas writes betas back the same
//     way;
//   - a folder of PNG/JPEG images (core/data/image_files.h): one variable,
//     "images", an image per file in file-name order, brought to
//     MatrixFileOptions::image and stored in its layout, as 8-bit values
//     (0 to 255, white 255).
// Matrices are trials (or images) x values, as doubles.
#ifndef V2P_CORE_DATA_MATRIX_FILE_H_
#define V2P_CORE_DATA_MATRIX_FILE_H_

#include <memory>
#include <string>
#include <vector>

#include "Eigen/Core"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/data/image.h"

namespace v2p::core {

class MatrixFile {
 public:
  virtual ~MatrixFile() = default;
  // The names ReadMatrix takes, in file order.
  virtual std::vector<std::string> VariableNames() const = 0;
  // NOT_FOUND names the variables that do exist.
  virtual absl::StatusOr<Eigen::MatrixXd> ReadMatrix(const std::string& name) const = 0;
  virtual const std::string& path() const = 0;
};

struct MatrixFileOptions {
  // NIfTI: a 3-d volume of the betas' grid; its non-zero voxels are read.
  std::string mask;
  // A file a client sent (a dataset upload, read by a worker): BData is
  // refused there, because libhdf5 can be made to spin for many seconds by
  // a crafted file (found by tests/fuzz/fuzz_matrix.cc in its reading of
  // variable-length strings); BData is for a lab's own files (--betas).
  bool uploaded = false;
  // A folder of images: the shape each image is brought to and the layout
  // its variable is stored in.
  ImageShape image;
  ImageLayout layout = ImageLayout::kRowMajor;
};

// The one variable of an image folder.
inline constexpr char kImageFolderVariable[] = "images";

// NOT_FOUND when the file is missing; INVALID_ARGUMENT when it is none of
// the formats above; DATA_LOSS when it is one but damaged.
absl::StatusOr<std::unique_ptr<MatrixFile>> OpenMatrixFile(const std::string& path,
                                                           const MatrixFileOptions& options = {});

// Writes `betas` (trials x mask voxels, in the order above) as a 4-d
// float64 NIfTI-1 volume on the grid of `mask`, zero outside it: the
// inverse of reading it with that mask. `path` ends in .nii or .nii.gz.
absl::Status WriteNiftiBetas(const std::string& path, const Eigen::MatrixXd& betas,
                             const std::string& mask);

}  // namespace v2p::core

#endif  // V2P_CORE_DATA_MATRIX_FILE_H_
