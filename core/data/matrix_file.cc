#include "core/data/matrix_file.h"

#include <hdf5.h>
#include <nifti2_io.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/status_macros.h"
#include "core/data/image_files.h"
#include "core/data/mat_file.h"
#include "core/data/npy.h"

namespace v2p::core {
namespace {

namespace fs = std::filesystem;

// The largest volume or dataset read: 2^28 values (2 GiB as doubles).
constexpr int64_t kMaxValues = int64_t{1} << 28;

absl::Status MissingVariable(const std::string& name, const std::string& path,
                             const std::vector<std::string>& names) {
  return absl::NotFoundError(absl::StrCat("variable '", name, "' not in ", path,
                                          " (it has: ", absl::StrJoin(names, ", "), ")"));
}

// Named matrices held in memory: .npy (one) and .npz (each member).
class NpyFile final : public MatrixFile {
 public:
  NpyFile(std::string path, std::map<std::string, NpyArray> arrays)
      : path_(std::move(path)), arrays_(std::move(arrays)) {}
  std::vector<std::string> VariableNames() const override {
    std::vector<std::string> names;
    for (const auto& [name, array] : arrays_) names.push_back(name);
    return names;
  }
  absl::StatusOr<Eigen::MatrixXd> ReadMatrix(const std::string& name) const override {
    auto it = arrays_.find(name);
    if (it == arrays_.end()) return MissingVariable(name, path_, VariableNames());
    auto m = it->second.AsMatrix();
    if (!m.ok()) return absl::InvalidArgumentError(absl::StrCat(name, ": ", m.status().message()));
    return m;
  }
  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  std::map<std::string, NpyArray> arrays_;
};

// An HDF5 identifier closed with its own function when it goes.
class Hid {
 public:
  Hid(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Hid() {
    if (id_ >= 0) close_(id_);
  }
  Hid(const Hid&) = delete;
  Hid& operator=(const Hid&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// A 2-d (or 1-d, as one row) numeric HDF5 dataset as doubles, row-major.
absl::StatusOr<Eigen::MatrixXd> ReadHdf5Matrix(hid_t file, const char* name) {
  Hid dataset(H5Dopen2(file, name, H5P_DEFAULT), H5Dclose);
  if (!dataset.ok()) return absl::DataLossError(absl::StrCat("no dataset ", name));
  Hid space(H5Dget_space(dataset.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 1 || rank > 2)
    return absl::DataLossError(absl::StrCat(name, " has ", rank, " dimensions; expected 2"));
  hsize_t dims[2] = {1, 1};
  H5Sget_simple_extent_dims(space.get(), rank == 2 ? dims : dims + 1, nullptr);
  if (static_cast<double>(dims[0]) * static_cast<double>(dims[1]) > kMaxValues)
    return absl::InvalidArgumentError(absl::StrCat(name, " declares ", dims[0], " x ", dims[1]));
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> m(dims[0], dims[1]);
  if (H5Dread(dataset.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, m.data()) < 0)
    return absl::DataLossError(absl::StrCat(name, " is not numeric or does not read"));
  return Eigen::MatrixXd(m);
}

// A 1-d dataset of strings, variable-length (h5py's str) or fixed.
absl::StatusOr<std::vector<std::string>> ReadHdf5Strings(hid_t file, const char* name) {
  Hid dataset(H5Dopen2(file, name, H5P_DEFAULT), H5Dclose);
  if (!dataset.ok()) return absl::DataLossError(absl::StrCat("no dataset ", name));
  Hid type(H5Dget_type(dataset.get()), H5Tclose);
  Hid space(H5Dget_space(dataset.get()), H5Sclose);
  if (H5Tget_class(type.get()) != H5T_STRING || H5Sget_simple_extent_ndims(space.get()) != 1)
    return absl::DataLossError(absl::StrCat(name, " is not a list of strings"));
  hsize_t n = 0;
  H5Sget_simple_extent_dims(space.get(), &n, nullptr);
  if (n > 1000000) return absl::InvalidArgumentError(absl::StrCat(name, " declares ", n));
  std::vector<std::string> out;
  Hid memtype(H5Tcopy(H5T_C_S1), H5Tclose);
  if (H5Tis_variable_str(type.get()) > 0) {
    H5Tset_size(memtype.get(), H5T_VARIABLE);
    std::vector<char*> text(n, nullptr);
    const herr_t read =
        H5Dread(dataset.get(), memtype.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, text.data());
    if (read >= 0)
      for (char* t : text) out.emplace_back(t == nullptr ? "" : t);
    // Also after a failed read: the strings read before it are the caller's.
    H5Dvlen_reclaim(memtype.get(), space.get(), H5P_DEFAULT, text.data());
    if (read < 0) return absl::DataLossError(absl::StrCat(name, " does not read"));
    return out;
  }
  const size_t size = H5Tget_size(type.get());
  H5Tset_size(memtype.get(), size);
  std::vector<char> text(n * size);
  if (H5Dread(dataset.get(), memtype.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, text.data()) < 0)
    return absl::DataLossError(absl::StrCat(name, " does not read"));
  for (hsize_t i = 0; i < n; ++i) {
    const char* t = text.data() + i * size;
    out.emplace_back(t, strnlen(t, size));
  }
  return out;
}

// bdpy's BData: /dataSet (samples x columns) and, per metadata key, a row
// of /metaData/value over the columns.
class BDataFile final : public MatrixFile {
 public:
  static absl::StatusOr<std::unique_ptr<MatrixFile>> Open(const std::string& path, hid_t file) {
    auto fail = [&path](const absl::Status& s) {
      return absl::Status(s.code(), absl::StrCat(path, " (BData): ", s.message()));
    };
    auto data = ReadHdf5Matrix(file, "/dataSet");
    if (!data.ok()) return fail(data.status());
    auto keys = ReadHdf5Strings(file, "/metaData/key");
    if (!keys.ok()) return fail(keys.status());
    auto values = ReadHdf5Matrix(file, "/metaData/value");
    if (!values.ok()) return fail(values.status());
    if (values->rows() != static_cast<Eigen::Index>(keys->size()) || values->cols() != data->cols())
      return fail(absl::DataLossError(
          absl::StrCat("/metaData/value is ", values->rows(), " x ", values->cols(), " for ",
                       keys->size(), " keys and ", data->cols(), " columns of /dataSet")));
    return std::unique_ptr<MatrixFile>(
        new BDataFile(path, *std::move(data), *std::move(keys), *std::move(values)));
  }
  std::vector<std::string> VariableNames() const override { return keys_; }
  absl::StatusOr<Eigen::MatrixXd> ReadMatrix(const std::string& name) const override {
    const auto key = std::find(keys_.begin(), keys_.end(), name);
    if (key == keys_.end()) return MissingVariable(name, path_, keys_);
    const Eigen::Index k = key - keys_.begin();
    std::vector<Eigen::Index> columns;
    for (Eigen::Index c = 0; c < values_.cols(); ++c)
      if (values_(k, c) == 1) columns.push_back(c);
    if (columns.empty())
      return absl::NotFoundError(absl::StrCat("metadata key '", name, "' of ", path_,
                                              " marks no column of /dataSet with 1"));
    Eigen::MatrixXd out(data_.rows(), static_cast<Eigen::Index>(columns.size()));
    for (size_t j = 0; j < columns.size(); ++j) out.col(j) = data_.col(columns[j]);
    return out;
  }
  const std::string& path() const override { return path_; }

 private:
  BDataFile(std::string path, Eigen::MatrixXd data, std::vector<std::string> keys,
            Eigen::MatrixXd values)
      : path_(std::move(path)),
        data_(std::move(data)),
        keys_(std::move(keys)),
        values_(std::move(values)) {}
  std::string path_;
  Eigen::MatrixXd data_;
  std::vector<std::string> keys_;
  Eigen::MatrixXd values_;
};

// A NIfTI image read by libnifti2, freed when it goes.
using NiftiPtr = std::unique_ptr<nifti_image, void (*)(nifti_image*)>;

absl::StatusOr<NiftiPtr> ReadNifti(const std::string& path) {
  nifti_set_debug_level(0);  // its errors come back as statuses, not on stderr
  NiftiPtr header(nifti_image_read(path.c_str(), 0), nifti_image_free);
  if (header == nullptr) return absl::DataLossError(absl::StrCat(path, " is not a readable NIfTI"));
  if (header->nvox <= 0 || header->nvox > kMaxValues)
    return absl::InvalidArgumentError(
        absl::StrCat(path, " declares ", header->nvox, " values; the most read is ", kMaxValues));
  NiftiPtr image(nifti_image_read(path.c_str(), 1), nifti_image_free);
  if (image == nullptr || image->data == nullptr)
    return absl::DataLossError(absl::StrCat(path, ": the NIfTI volume does not read (cut short?)"));
  return image;
}

template <typename T>
double At(const void* data, int64_t i) {
  return static_cast<double>(static_cast<const T*>(data)[i]);
}

// The reader of one value of each NIfTI datatype that holds real numbers.
struct NiftiType {
  int datatype;
  double (*at)(const void*, int64_t);
};
constexpr NiftiType kNiftiTypes[] = {
    {NIFTI_TYPE_UINT8, At<uint8_t>},  {NIFTI_TYPE_INT8, At<int8_t>},
    {NIFTI_TYPE_INT16, At<int16_t>},  {NIFTI_TYPE_UINT16, At<uint16_t>},
    {NIFTI_TYPE_INT32, At<int32_t>},  {NIFTI_TYPE_UINT32, At<uint32_t>},
    {NIFTI_TYPE_INT64, At<int64_t>},  {NIFTI_TYPE_FLOAT32, At<float>},
    {NIFTI_TYPE_FLOAT64, At<double>},
};

// The volume's values, scaled by scl_slope and scl_inter when set.
absl::StatusOr<std::vector<double>> NiftiValues(const nifti_image& image) {
  const auto* type = std::find_if(std::begin(kNiftiTypes), std::end(kNiftiTypes),
                                  [&](const NiftiType& t) { return t.datatype == image.datatype; });
  if (type == std::end(kNiftiTypes))
    return absl::InvalidArgumentError(absl::StrCat("NIfTI datatype ", image.datatype, " (",
                                                   nifti_datatype_string(image.datatype),
                                                   ") is not a real number type"));
  const bool scaled = image.scl_slope != 0 && (image.scl_slope != 1 || image.scl_inter != 0);
  std::vector<double> values(static_cast<size_t>(image.nvox));
  for (int64_t i = 0; i < image.nvox; ++i) {
    const double v = type->at(image.data, i);
    values[i] = scaled ? image.scl_slope * v + image.scl_inter : v;
  }
  return values;
}

int64_t GridSize(const nifti_image& image) {
  return std::max<int64_t>(1, image.nx) * std::max<int64_t>(1, image.ny) *
         std::max<int64_t>(1, image.nz);
}

// The mask's non-zero voxels (all, without a mask), in storage order.
absl::StatusOr<std::vector<int64_t>> MaskVoxels(const nifti_image& volume,
                                                const std::string& mask_path) {
  std::vector<int64_t> voxels;
  if (mask_path.empty()) {
    for (int64_t v = 0; v < GridSize(volume); ++v) voxels.push_back(v);
    return voxels;
  }
  ASSIGN_OR_RETURN(NiftiPtr mask, ReadNifti(mask_path));
  if (mask->nx != volume.nx || mask->ny != volume.ny || mask->nz != volume.nz ||
      mask->nvox != GridSize(*mask))
    return absl::InvalidArgumentError(absl::StrCat(
        "mask ", mask_path, " is ", mask->nx, "x", mask->ny, "x", mask->nz, " (", mask->nvox,
        " values); the betas' grid is ", volume.nx, "x", volume.ny, "x", volume.nz));
  ASSIGN_OR_RETURN(const std::vector<double> m, NiftiValues(*mask));
  for (int64_t v = 0; v < static_cast<int64_t>(m.size()); ++v)
    if (m[v] != 0) voxels.push_back(v);
  if (voxels.empty())
    return absl::InvalidArgumentError(absl::StrCat("mask ", mask_path, " is empty"));
  return voxels;
}

class NiftiFile final : public MatrixFile {
 public:
  NiftiFile(std::string path, Eigen::MatrixXd betas)
      : path_(std::move(path)), betas_(std::move(betas)) {}
  std::vector<std::string> VariableNames() const override { return {"betas"}; }
  absl::StatusOr<Eigen::MatrixXd> ReadMatrix(const std::string& name) const override {
    if (name != "betas") return MissingVariable(name, path_, VariableNames());
    return betas_;
  }
  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  Eigen::MatrixXd betas_;
};

absl::StatusOr<std::unique_ptr<MatrixFile>> OpenNifti(const std::string& path,
                                                      const std::string& mask) {
  ASSIGN_OR_RETURN(NiftiPtr volume, ReadNifti(path));
  const int64_t grid = GridSize(*volume);
  if (volume->nvox % grid != 0)
    return absl::DataLossError(
        absl::StrCat(path, ": ", volume->nvox, " values on a grid of ", grid));
  const int64_t trials = volume->nvox / grid;
  ASSIGN_OR_RETURN(const std::vector<double> values, NiftiValues(*volume));
  ASSIGN_OR_RETURN(const std::vector<int64_t> voxels, MaskVoxels(*volume, mask));
  Eigen::MatrixXd betas(trials, static_cast<Eigen::Index>(voxels.size()));
  for (int64_t t = 0; t < trials; ++t)
    for (size_t j = 0; j < voxels.size(); ++j) betas(t, j) = values[t * grid + voxels[j]];
  return std::unique_ptr<MatrixFile>(new NiftiFile(path, std::move(betas)));
}

std::string Head(const std::string& path, size_t n) {
  std::ifstream in(path, std::ios::binary);
  std::string head(n, '\0');
  in.read(head.data(), static_cast<std::streamsize>(n));
  head.resize(static_cast<size_t>(in.gcount()));
  return head;
}

bool IsNiftiName(const std::string& path) {
  return absl::EndsWith(path, ".nii") || absl::EndsWith(path, ".nii.gz");
}

// A folder of images, read whole when opened: one variable.
class ImageFolderFile final : public MatrixFile {
 public:
  ImageFolderFile(std::string path, Eigen::MatrixXd images)
      : path_(std::move(path)), images_(std::move(images)) {}
  std::vector<std::string> VariableNames() const override { return {kImageFolderVariable}; }
  absl::StatusOr<Eigen::MatrixXd> ReadMatrix(const std::string& name) const override {
    if (name != kImageFolderVariable) return MissingVariable(name, path_, VariableNames());
    return images_;
  }
  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  Eigen::MatrixXd images_;
};

absl::StatusOr<std::unique_ptr<MatrixFile>> OpenImageFolder(const std::string& path,
                                                            const MatrixFileOptions& options) {
  if (options.image.num_pixels() <= 0)
    return absl::InvalidArgumentError(
        absl::StrCat(path,
                     " is a folder of images, read only with an image shape to bring "
                     "them to (a dataset description's image { ... })"));
  ASSIGN_OR_RETURN(const ImageFolder folder, ReadImageFolder(path, options.image));
  Eigen::MatrixXd stored = FromRowMajorImages((folder.images.cast<double>() * 255.0).eval(),
                                              options.image, options.layout);
  return std::unique_ptr<MatrixFile>(new ImageFolderFile(path, std::move(stored)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<MatrixFile>> OpenMatrixFile(const std::string& path,
                                                           const MatrixFileOptions& options) {
  std::error_code ec;
  if (fs::is_directory(path, ec) && !options.uploaded) return OpenImageFolder(path, options);
  if (!fs::is_regular_file(path, ec)) return absl::NotFoundError(absl::StrCat("no file ", path));
  const std::string head = Head(path, 8);
  static constexpr char kHdf5[] = "\x89HDF\r\n\x1a\n";
  if (absl::StartsWith(head, "MATLAB")) {
    ASSIGN_OR_RETURN(auto mat, MatFile::Open(path));
    return std::unique_ptr<MatrixFile>(std::move(mat));
  }
  if (absl::StartsWith(head, "\x93NUMPY")) {
    ASSIGN_OR_RETURN(NpyArray array, ReadNpy(path));
    std::string stem = fs::path(path).stem().string();
    return std::unique_ptr<MatrixFile>(new NpyFile(path, {{stem, std::move(array)}}));
  }
  if (absl::StartsWith(head, "PK")) {
    ASSIGN_OR_RETURN(auto arrays, ReadNpz(path));
    return std::unique_ptr<MatrixFile>(new NpyFile(path, std::move(arrays)));
  }
  if (head == std::string(kHdf5, 8)) {
    // Refused before libhdf5 parses anything a client sent.
    if (options.uploaded)
      return absl::InvalidArgumentError(
          "an uploaded dataset may be MATLAB (.mat) or NumPy (.npz, .npy), not bdpy BData or "
          "other HDF5: read BData locally (v2p reconstruct --betas FILE.h5 --var ROI_...) or "
          "save the variables as .npz");
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors come back as statuses
    Hid file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!file.ok()) return absl::DataLossError(absl::StrCat(path, " is not a readable HDF5 file"));
    if (H5Lexists(file.get(), "/dataSet", H5P_DEFAULT) > 0)
      return BDataFile::Open(path, file.get());
    return absl::InvalidArgumentError(
        absl::StrCat(path,
                     " is an HDF5 file but not bdpy BData (no /dataSet) nor MATLAB v7.3 (no MATLAB "
                     "header)"));
  }
  if (IsNiftiName(path)) return OpenNifti(path, options.mask);
  return absl::InvalidArgumentError(
      absl::StrCat(path,
                   " is not a MATLAB (.mat), NumPy (.npy, .npz), bdpy BData (.h5) or NIfTI (.nii, "
                   ".nii.gz) file"));
}

absl::Status WriteNiftiBetas(const std::string& path, const Eigen::MatrixXd& betas,
                             const std::string& mask_path) {
  if (!IsNiftiName(path))
    return absl::InvalidArgumentError(absl::StrCat(path, " does not end in .nii or .nii.gz"));
  ASSIGN_OR_RETURN(NiftiPtr mask, ReadNifti(mask_path));
  ASSIGN_OR_RETURN(const std::vector<int64_t> voxels, MaskVoxels(*mask, mask_path));
  if (betas.cols() != static_cast<Eigen::Index>(voxels.size()) || betas.rows() < 1)
    return absl::InvalidArgumentError(absl::StrCat("betas are ", betas.rows(), " x ", betas.cols(),
                                                   "; the mask has ", voxels.size(), " voxels"));
  const int64_t grid = GridSize(*mask);
  const int64_t dims[8] = {4, mask->nx, mask->ny, mask->nz, betas.rows(), 1, 1, 1};
  NiftiPtr out(nifti_make_new_nim(dims, NIFTI_TYPE_FLOAT64, 1), nifti_image_free);
  if (out == nullptr) return absl::InternalError("libnifti2 could not make a volume");
  // The mask's space: voxel sizes and the voxel-to-world transforms.
  for (int i = 1; i <= 3; ++i) out->pixdim[i] = mask->pixdim[i];
  out->dx = mask->dx, out->dy = mask->dy, out->dz = mask->dz;
  out->qform_code = mask->qform_code, out->sform_code = mask->sform_code;
  out->quatern_b = mask->quatern_b, out->quatern_c = mask->quatern_c;
  out->quatern_d = mask->quatern_d, out->qfac = mask->qfac;
  out->qoffset_x = mask->qoffset_x, out->qoffset_y = mask->qoffset_y;
  out->qoffset_z = mask->qoffset_z;
  out->qto_xyz = mask->qto_xyz, out->qto_ijk = mask->qto_ijk;
  out->sto_xyz = mask->sto_xyz, out->sto_ijk = mask->sto_ijk;
  double* data = static_cast<double*>(out->data);
  for (Eigen::Index t = 0; t < betas.rows(); ++t)
    for (size_t j = 0; j < voxels.size(); ++j) data[t * grid + voxels[j]] = betas(t, j);
  if (nifti_set_filenames(out.get(), path.c_str(), 0, 1) != 0)
    return absl::InvalidArgumentError(absl::StrCat("libnifti2 refused the name ", path));
  nifti_image_write(out.get());
  std::error_code ec;
  if (!fs::is_regular_file(path, ec) || fs::file_size(path, ec) == 0)
    return absl::InternalError(absl::StrCat("libnifti2 did not write ", path));
  return absl::OkStatus();
}

}  // namespace v2p::core
