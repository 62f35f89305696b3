#include "tests/testing/lab_files.h"

#include <hdf5.h>
#include <nifti2_io.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/base/status_macros.h"
#include "core/data/dataset.h"
#include "core/data/image.h"
#include "core/data/mat_file.h"
#include "core/data/matrix_file.h"
#include "core/data/npy.h"
#include "tests/testing/digit69.h"

namespace v2p::testing {

absl::Status WriteNiftiVolume(const std::string& path, const std::vector<int64_t>& shape,
                              int datatype, const std::function<double(int64_t)>& value) {
  int64_t dims[8] = {static_cast<int64_t>(shape.size()), 1, 1, 1, 1, 1, 1, 1};
  for (size_t i = 0; i < shape.size(); ++i) dims[i + 1] = shape[i];
  nifti_image* image = nifti_make_new_nim(dims, datatype, 1);
  if (image == nullptr) return absl::InternalError("nifti_make_new_nim failed");
  for (int64_t i = 0; i < image->nvox; ++i) {
    if (datatype == NIFTI_TYPE_FLOAT32) static_cast<float*>(image->data)[i] = value(i);
    if (datatype == NIFTI_TYPE_UINT8) static_cast<uint8_t*>(image->data)[i] = value(i);
  }
  const bool named = nifti_set_filenames(image, path.c_str(), 0, 1) == 0;
  if (named) nifti_image_write(image);
  nifti_image_free(image);
  if (!named) return absl::InternalError(absl::StrCat("cannot name ", path));
  return absl::OkStatus();
}

absl::Status WriteBData(const std::string& path, const Eigen::MatrixXd& data,
                        const std::vector<const char*>& keys, const Eigen::MatrixXd& values) {
  hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file < 0) return absl::InternalError(absl::StrCat("cannot create ", path));
  auto write_matrix = [&](const char* name, const Eigen::MatrixXd& m) {
    const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rm = m;
    hsize_t dims[2] = {static_cast<hsize_t>(m.rows()), static_cast<hsize_t>(m.cols())};
    hid_t space = H5Screate_simple(2, dims, nullptr);
    hid_t set =
        H5Dcreate2(file, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(set, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, rm.data());
    H5Dclose(set), H5Sclose(space);
  };
  auto write_strings = [&](const char* name, std::vector<const char*> text) {
    hsize_t n = text.size();
    hid_t space = H5Screate_simple(1, &n, nullptr);
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    hid_t set = H5Dcreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, text.data());
    H5Dclose(set), H5Tclose(type), H5Sclose(space);
  };
  write_matrix("/dataSet", data);
  H5Gclose(H5Gcreate2(file, "/metaData", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  write_strings("/metaData/key", keys);
  write_strings("/metaData/description", std::vector<const char*>(keys.size(), "a key"));
  write_matrix("/metaData/value", values);
  H5Fclose(file);
  return absl::OkStatus();
}

namespace {

// One PNG per row of `images` (row-major [0, 1]) under `dir`, 000.png on.
absl::Status WritePngFolder(const std::string& dir, const Eigen::MatrixXd& images,
                            core::ImageShape shape) {
  std::filesystem::create_directories(dir);
  for (Eigen::Index i = 0; i < images.rows(); ++i) {
    const Eigen::VectorXf row = images.row(i).transpose().cast<float>();
    ASSIGN_OR_RETURN(const std::string png, core::EncodePng(row.data(), shape));
    std::ofstream(absl::StrFormat("%s/%03d.png", dir, i), std::ios::binary) << png;
  }
  return absl::OkStatus();
}

constexpr char kDescription[] = R"pb(
  name: "digit69_lab"
  sources {
    key: "bold"
    value { path: "train_bold.nii.gz" mask: "mask.nii.gz" }
  }
  sources {
    key: "held_out"
    value { path: "test.h5" }
  }
  sources {
    key: "train_pictures"
    value { path: "stimuli/train" }
  }
  sources {
    key: "test_pictures"
    value { path: "stimuli/test" }
  }
  sources {
    key: "labels"
    value { path: "train_labels.npy" }
  }
  train { betas: "bold:betas" stimuli: "train_pictures:images" labels: "labels:train_labels" }
  test { betas: "held_out:VoxelData" stimuli: "test_pictures:images" labels: "held_out:Label" }
  image { height: 28 width: 28 channels: 1 layout: IMAGE_LAYOUT_ROW_MAJOR }
)pb";

}  // namespace

absl::StatusOr<std::string> WriteDigit69AsLabFiles(const std::string& dir) {
  const core::DatasetOptions options = Digit69Options();
  ASSIGN_OR_RETURN(const core::Dataset ds, core::LoadDataset(options));
  const Eigen::Index voxels = ds.train.betas.cols();
  constexpr int64_t kSide = 16, kGrid = kSide * kSide * kSide;
  if (voxels > kGrid) return absl::InternalError("digit69 has more voxels than the grid");
  // v -> 2654435761 v mod 4096 permutes the grid: exactly `voxels` in the mask.
  RETURN_IF_ERROR(WriteNiftiVolume(dir + "/mask.nii.gz", {kSide, kSide, kSide}, NIFTI_TYPE_UINT8,
                                   [&](int64_t v) { return (v * 2654435761) % kGrid < voxels; }));
  RETURN_IF_ERROR(
      core::WriteNiftiBetas(dir + "/train_bold.nii.gz", ds.train.betas, dir + "/mask.nii.gz"));
  Eigen::MatrixXd test(ds.test.betas.rows(), voxels + 1),
      keys = Eigen::MatrixXd::Zero(2, voxels + 1);
  test << ds.test.betas, ds.test.labels.cast<double>();
  keys.row(0).head(voxels).setOnes();
  keys(1, voxels) = 1;
  RETURN_IF_ERROR(WriteBData(dir + "/test.h5", test, {"VoxelData", "Label"}, keys));
  RETURN_IF_ERROR(WritePngFolder(dir + "/stimuli/train", ds.train.stimuli, ds.image));
  RETURN_IF_ERROR(WritePngFolder(dir + "/stimuli/test", ds.test.stimuli, ds.image));
  RETURN_IF_ERROR(
      core::WriteNpyFloat64(dir + "/train_labels.npy", ds.train.labels.cast<double>().eval()));
  const std::string path = dir + "/digit69_lab.pbtxt";
  std::ofstream(path) << kDescription;
  return path;
}

}  // namespace v2p::testing
