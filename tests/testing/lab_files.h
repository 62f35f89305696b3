// Files in the formats labs keep data in, written by each format's own
// library (libnifti2, libhdf5 as h5py lays BData out, OpenCV's PNG), for
// tests of reading them; and digit69 rewritten as such a lab's files.
#ifndef V2P_TESTS_TESTING_LAB_FILES_H_
#define V2P_TESTS_TESTING_LAB_FILES_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "Eigen/Core"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace v2p::testing {

// A NIfTI volume of `shape` (x fastest) and libnifti2 `datatype`
// (NIFTI_TYPE_FLOAT32 or NIFTI_TYPE_UINT8), voxel i holding value(i).
absl::Status WriteNiftiVolume(const std::string& path, const std::vector<int64_t>& shape,
                              int datatype, const std::function<double(int64_t)>& value);

// bdpy BData: /dataSet, /metaData/key (variable-length strings, as h5py
// writes a list of str), /metaData/description and /metaData/value (keys x
// columns).
absl::Status WriteBData(const std::string& path, const Eigen::MatrixXd& data,
                        const std::vector<const char*>& keys, const Eigen::MatrixXd& values);

// digit69_28x28.mat as a lab keeps such data, under `dir`, with a dataset
// description naming each file as a source and no `file`:
//   mask.nii.gz            uint8 16x16x16 grid, one non-zero voxel per
//                          digit69 voxel (scattered over the grid)
//   train_bold.nii.gz      the training betas on that grid ("bold:betas")
//   test.h5                BData: the test betas ("held_out:VoxelData") and
//                          labels ("held_out:Label")
//   stimuli/{train,test}/  one PNG per trial, in trial order by name
//   train_labels.npy       the training labels
//   digit69_lab.pbtxt      the description (relative paths)
// Returns the description's path. It loads as the same dataset as the
// .mat (stimuli to 8-bit PNG precision, which digit69's 0-255 keep exact).
absl::StatusOr<std::string> WriteDigit69AsLabFiles(const std::string& dir);

}  // namespace v2p::testing

#endif  // V2P_TESTS_TESTING_LAB_FILES_H_
