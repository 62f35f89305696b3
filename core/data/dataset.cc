#include "core/data/dataset.h"

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/data/mat_file.h"

namespace v2p::core {
namespace {

absl::Status CheckFinite(const Eigen::MatrixXd& m, const std::string& what) {
  if (!m.allFinite()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " contains NaN or Inf"));
  }
  return absl::OkStatus();
}

// An n x pixels image variable, checked and converted to row-major [0, 1].
absl::StatusOr<Eigen::MatrixXd> LoadImages(const MatFile& mat, const DatasetOptions& options,
                                           const std::string& var, Eigen::Index n) {
  ASSIGN_OR_RETURN(Eigen::MatrixXd raw, mat.ReadMatrix(var));
  if ((n >= 0 && raw.rows() != n) || raw.cols() != options.image.num_pixels()) {
    const std::string rows = n >= 0 ? absl::StrCat(n) : "n";
    return absl::InvalidArgumentError(absl::StrCat(
        var, " is ", raw.rows(), "x", raw.cols(), "; expected ", rows, "x",
        options.image.num_pixels(), " (", rows, " images of ", options.image.height, "x",
        options.image.width, "x", options.image.channels, " pixels)"));
  }
  RETURN_IF_ERROR(CheckFinite(raw, var));
  return Eigen::MatrixXd(ToRowMajorImages(raw, options.image, options.layout) /
                         options.pixel_max);
}

absl::StatusOr<DatasetSplit> LoadSplit(const MatFile& mat,
                                       const DatasetOptions& options,
                                       const DatasetOptions::Split& vars,
                                       const std::string& split_name) {
  DatasetSplit split;
  if (vars.betas.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(split_name, " split names no betas variable"));
  }
  ASSIGN_OR_RETURN(split.betas, mat.ReadMatrix(vars.betas));
  RETURN_IF_ERROR(CheckFinite(split.betas, vars.betas));
  const Eigen::Index n = split.betas.rows();
  if (!vars.stimuli.empty()) {
    ASSIGN_OR_RETURN(split.stimuli, LoadImages(mat, options, vars.stimuli, n));
  }
  if (!vars.labels.empty()) {
    ASSIGN_OR_RETURN(Eigen::MatrixXd raw, mat.ReadMatrix(vars.labels));
    if (raw.size() != n) {
      return absl::InvalidArgumentError(absl::StrCat(
          vars.labels, " has ", raw.size(), " labels for ", n, " samples"));
    }
    split.labels =
        Eigen::Map<Eigen::VectorXd>(raw.data(), raw.size()).cast<int>();
  }
  return split;
}

}  // namespace

absl::StatusOr<Dataset> LoadDataset(const DatasetOptions& options) {
  if (options.image.num_pixels() <= 0) {
    return absl::InvalidArgumentError("dataset description has no image shape");
  }
  if (options.pixel_max <= 0) {
    return absl::InvalidArgumentError(
        "dataset description: pixel_max must be > 0");
  }
  ASSIGN_OR_RETURN(auto mat, MatFile::Open(options.file));
  Dataset ds;
  ds.name = options.name;
  ds.image = options.image;
  ASSIGN_OR_RETURN(ds.train, LoadSplit(*mat, options, options.train, "train"));
  ASSIGN_OR_RETURN(ds.test, LoadSplit(*mat, options, options.test, "test"));
  if (ds.train.stimuli.size() == 0) {
    return absl::InvalidArgumentError("train split names no stimuli variable");
  }
  if (ds.test.betas.cols() != ds.train.betas.cols()) {
    return absl::InvalidArgumentError(
        absl::StrCat("test betas have ", ds.test.betas.cols(),
                     " voxels; train betas have ", ds.train.betas.cols()));
  }
  if (!options.unpaired_images.empty()) {
    ASSIGN_OR_RETURN(ds.unpaired, LoadImages(*mat, options, options.unpaired_images, -1));
  }
  return ds;
}

DatasetOptions Digit69DatasetOptions(const std::string& data_root) {
  DatasetOptions o;
  o.name = "digit69";
  o.file = data_root + "/digit69/digit69_28x28.mat";
  o.train = {"fmriTrn", "stimTrn", "labelTrn"};
  o.test = {"fmriTest", "stimTest", "labelTest"};
  o.image = {28, 28, 1};
  o.layout = ImageLayout::kColumnMajor;
  o.pixel_max = 255;
  return o;
}

}  // namespace v2p::core
