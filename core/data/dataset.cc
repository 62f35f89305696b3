#include "core/data/dataset.h"

#include <cmath>

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
// With the betas' variable and voxel count, an image count equal to the
// voxel count is reported as betas stored voxels x samples.
absl::StatusOr<Eigen::MatrixXd> LoadImages(const MatFile& mat, const DatasetOptions& options,
                                           const std::string& var, Eigen::Index n,
                                           Eigen::Index voxels = -1,
                                           const std::string& betas_var = "") {
  ASSIGN_OR_RETURN(Eigen::MatrixXd raw, mat.ReadMatrix(var));
  if ((n >= 0 && raw.rows() != n) || raw.cols() != options.image.num_pixels()) {
    const std::string rows = n >= 0 ? absl::StrCat(n) : "n";
    const bool transposed = voxels >= 0 && raw.rows() == voxels && raw.rows() != n;
    return absl::InvalidArgumentError(absl::StrCat(
        var, " is ", raw.rows(), "x", raw.cols(), "; expected ", rows, "x",
        options.image.num_pixels(), " (", rows, " images of ", options.image.height, "x",
        options.image.width, "x", options.image.channels, " pixels)",
        transposed ? absl::StrCat("; ", betas_var, " is ", n, "x", voxels,
                                  ": it looks stored voxels x samples (one sample per row)")
                   : ""));
  }
  RETURN_IF_ERROR(CheckFinite(raw, var));
  // options.pixel_max is resolved by now: this checks the range only.
  RETURN_IF_ERROR(ResolvePixelMax(raw, var, options.pixel_max).status());
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
    ASSIGN_OR_RETURN(split.stimuli, LoadImages(mat, options, vars.stimuli, n,
                                               split.betas.cols(), vars.betas));
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

absl::StatusOr<double> ResolvePixelMax(const Eigen::MatrixXd& raw, const std::string& var,
                                       double declared) {
  if (raw.size() == 0) return declared > 0 ? declared : 255.0;
  const double lo = raw.minCoeff(), hi = raw.maxCoeff();
  const std::string found = absl::StrCat(var, " holds values from ", lo, " to ", hi);
  if (lo < 0)
    return absl::InvalidArgumentError(absl::StrCat(
        found, "; stimuli must lie in [0, pixel_max] (rescale them, e.g. from [-1, 1])"));
  if (declared <= 0) {
    if (hi <= 1) return 1.0;
    if (hi <= 255) return 255.0;
    return absl::InvalidArgumentError(absl::StrCat(
        found, "; declare the stored value of white as image { pixel_max: ... }"));
  }
  if (hi > declared * (1 + 1e-9))
    return absl::InvalidArgumentError(
        absl::StrCat(found, ", above the declared image.pixel_max ", declared));
  if (declared > 1 && hi <= 1 && hi > 0)
    return absl::InvalidArgumentError(absl::StrCat(
        found, " but image.pixel_max is ", declared,
        ": the stimuli look stored in [0, 1]; declare pixel_max: 1 (or leave it out)"));
  return declared;
}

absl::StatusOr<Dataset> LoadDataset(const DatasetOptions& options) {
  if (options.image.num_pixels() <= 0) {
    return absl::InvalidArgumentError("dataset description has no image shape");
  }
  if (options.pixel_max < 0 || !std::isfinite(options.pixel_max)) {
    return absl::InvalidArgumentError(
        "dataset description: pixel_max must be > 0 (or left out to infer it)");
  }
  ASSIGN_OR_RETURN(auto mat, MatFile::Open(options.file));
  if (options.train.stimuli.empty())
    return absl::InvalidArgumentError("train split names no stimuli variable");
  // The training stimuli decide an undeclared range; every image variable
  // is then checked against it.
  DatasetOptions resolved = options;
  {
    ASSIGN_OR_RETURN(const Eigen::MatrixXd raw, mat->ReadMatrix(options.train.stimuli));
    RETURN_IF_ERROR(CheckFinite(raw, options.train.stimuli));
    ASSIGN_OR_RETURN(resolved.pixel_max,
                     ResolvePixelMax(raw, options.train.stimuli, options.pixel_max));
  }
  Dataset ds;
  ds.name = options.name;
  ds.image = options.image;
  ds.pixel_max = resolved.pixel_max;
  ASSIGN_OR_RETURN(ds.train, LoadSplit(*mat, resolved, options.train, "train"));
  ASSIGN_OR_RETURN(ds.test, LoadSplit(*mat, resolved, options.test, "test"));
  if (ds.train.stimuli.size() == 0) {
    return absl::InvalidArgumentError("train split names no stimuli variable");
  }
  if (ds.test.betas.cols() != ds.train.betas.cols()) {
    return absl::InvalidArgumentError(
        absl::StrCat("test betas have ", ds.test.betas.cols(),
                     " voxels; train betas have ", ds.train.betas.cols()));
  }
  if (!options.unpaired_images.empty()) {
    ASSIGN_OR_RETURN(ds.unpaired, LoadImages(*mat, resolved, options.unpaired_images, -1));
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
