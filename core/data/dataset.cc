#include "core/data/dataset.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/base/status_macros.h"
#include "core/data/matrix_file.h"

namespace v2p::core {
namespace {

// `file` and each source, opened on first use.
class DatasetFiles {
 public:
  explicit DatasetFiles(const DatasetOptions& options) : options_(options) {}

  // A variable: "<source>:<name>" or a plain name, read from `file`.
  absl::StatusOr<Eigen::MatrixXd> Read(const std::string& reference) const {
    const size_t colon = reference.find(':');
    const std::string source = colon == std::string::npos ? "" : reference.substr(0, colon);
    ASSIGN_OR_RETURN(const MatrixFile* file, Open(source));
    return file->ReadMatrix(colon == std::string::npos ? reference : reference.substr(colon + 1));
  }

 private:
  absl::StatusOr<const MatrixFile*> Open(const std::string& source) const {
    if (auto it = open_.find(source); it != open_.end()) return it->second.get();
    MatrixFileOptions file_options;
    file_options.uploaded = options_.uploaded;
    file_options.image = options_.image;
    file_options.layout = options_.layout;
    std::string path = options_.file;
    if (source.empty() && path.empty())
      return absl::InvalidArgumentError(
          "the dataset description names no file to read variables without a <source>: from");
    if (!source.empty()) {
      if (options_.uploaded)
        return absl::InvalidArgumentError("an uploaded dataset is one file: it has no sources");
      const auto it = options_.sources.find(source);
      if (it == options_.sources.end())
        return absl::InvalidArgumentError(
            absl::StrCat("the dataset description names no source '", source, "'"));
      path = it->second.path;
      file_options.mask = it->second.mask;
    }
    ASSIGN_OR_RETURN(auto opened, OpenMatrixFile(path, file_options));
    return (open_[source] = std::move(opened)).get();
  }

  const DatasetOptions& options_;
  mutable std::map<std::string, std::unique_ptr<MatrixFile>> open_;
};

absl::Status CheckFinite(const Eigen::MatrixXd& m, const std::string& what) {
  if (!m.allFinite()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " contains NaN or Inf"));
  }
  return absl::OkStatus();
}

// An n x pixels image variable, checked and converted to row-major [0, 1].
// With the betas' variable and voxel count, an image count equal to the
// voxel count is reported as betas stored voxels x samples.
absl::StatusOr<Eigen::MatrixXd> LoadImages(const DatasetFiles& mat, const DatasetOptions& options,
                                           const std::string& var, Eigen::Index n,
                                           Eigen::Index voxels = -1,
                                           const std::string& betas_var = "") {
  ASSIGN_OR_RETURN(Eigen::MatrixXd raw, mat.Read(var));
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
  return Eigen::MatrixXd(ToRowMajorImages(raw, options.image, options.layout) / options.pixel_max);
}

absl::StatusOr<DatasetSplit> LoadSplit(const DatasetFiles& mat, const DatasetOptions& options,
                                       const DatasetOptions::Split& vars,
                                       const std::string& split_name) {
  DatasetSplit split;
  if (vars.betas.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(split_name, " split names no betas variable"));
  }
  ASSIGN_OR_RETURN(split.betas, mat.Read(vars.betas));
  RETURN_IF_ERROR(CheckFinite(split.betas, vars.betas));
  const Eigen::Index n = split.betas.rows();
  if (!vars.stimuli.empty()) {
    ASSIGN_OR_RETURN(split.stimuli,
                     LoadImages(mat, options, vars.stimuli, n, split.betas.cols(), vars.betas));
  }
  if (!vars.labels.empty()) {
    ASSIGN_OR_RETURN(Eigen::MatrixXd raw, mat.Read(vars.labels));
    if (raw.size() != n) {
      return absl::InvalidArgumentError(
          absl::StrCat(vars.labels, " has ", raw.size(), " labels for ", n, " samples"));
    }
    split.labels = Eigen::Map<Eigen::VectorXd>(raw.data(), raw.size()).cast<int>();
  }
  return split;
}

// Which of the n trials `selection` names as test trials.
absl::StatusOr<std::vector<bool>> SelectTestTrials(const DatasetFiles& mat,
                                                   const TrialSelection& selection,
                                                   Eigen::Index n) {
  if (!selection.ranges.empty() && !selection.variable.empty())
    return absl::InvalidArgumentError(
        "test_trials names trials by ranges or by a variable, not both");
  std::vector<bool> test(n, false);
  for (const auto& [first, last] : selection.ranges) {
    if (last > n)
      return absl::InvalidArgumentError(
          absl::StrCat("test_trials range ", first, "-", last, " runs past the ", n, " trials"));
    for (int64_t t = first; t <= last; ++t) test[t - 1] = true;
  }
  if (!selection.variable.empty()) {
    if (selection.values.empty())
      return absl::InvalidArgumentError(
          absl::StrCat("test_trials names variable ", selection.variable, " but no values"));
    ASSIGN_OR_RETURN(const Eigen::MatrixXd v, mat.Read(selection.variable));
    if (v.size() != n)
      return absl::InvalidArgumentError(
          absl::StrCat(selection.variable, " has ", v.size(), " values for ", n, " trials"));
    for (Eigen::Index i = 0; i < n; ++i)
      for (double value : selection.values)
        if (v(i) == value) test[i] = true;
  }
  const auto num_test = std::count(test.begin(), test.end(), true);
  if (num_test == 0) return absl::InvalidArgumentError("test_trials selects no trial");
  if (n - num_test < 2)
    return absl::InvalidArgumentError(absl::StrCat("test_trials selects ", num_test, " of ", n,
                                                   " trials, leaving fewer than 2 to train"));
  return test;
}

}  // namespace

DatasetSplit ConcatenateSplits(const DatasetSplit& a, const DatasetSplit& b) {
  DatasetSplit all;
  all.betas.resize(a.betas.rows() + b.betas.rows(), a.betas.cols());
  all.betas << a.betas, b.betas;
  if (a.stimuli.rows() == a.betas.rows() && b.stimuli.rows() == b.betas.rows() &&
      a.stimuli.cols() == b.stimuli.cols()) {
    all.stimuli.resize(all.betas.rows(), a.stimuli.cols());
    all.stimuli << a.stimuli, b.stimuli;
  }
  if (a.labels.size() == a.betas.rows() && b.labels.size() == b.betas.rows()) {
    all.labels.resize(all.betas.rows());
    all.labels << a.labels, b.labels;
  }
  return all;
}

DatasetSplit SplitRows(const DatasetSplit& split, const std::vector<Eigen::Index>& rows) {
  DatasetSplit out;
  auto take = [&](const Eigen::MatrixXd& m) {
    Eigen::MatrixXd t(rows.size(), m.cols());
    for (size_t i = 0; i < rows.size(); ++i) t.row(i) = m.row(rows[i]);
    return t;
  };
  out.betas = take(split.betas);
  if (split.stimuli.rows() > 0) out.stimuli = take(split.stimuli);
  if (split.labels.size() > 0) {
    out.labels.resize(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) out.labels(i) = split.labels(rows[i]);
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<int64_t, int64_t>>> ParseTrialRanges(absl::string_view text) {
  const std::string quoted = absl::StrCat("'", text.substr(0, 64), text.size() > 64 ? "...'" : "'");
  if (text.size() > 4096)
    return absl::InvalidArgumentError(
        absl::StrCat("trial ranges ", quoted, " are longer than 4096 characters"));
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    part = absl::StripAsciiWhitespace(part);
    const std::vector<absl::string_view> ends = absl::StrSplit(part, '-');
    int64_t first = 0, last = 0;
    const bool ok = (ends.size() == 1 || ends.size() == 2) &&
                    absl::SimpleAtoi(ends.front(), &first) &&
                    absl::SimpleAtoi(ends.back(), &last) && first >= 1 && last >= first;
    if (!ok)
      return absl::InvalidArgumentError(
          absl::StrCat("trial ranges ", quoted,
                       ": expected trial numbers from 1 or ranges first-last, "
                       "separated by commas (e.g. \"1-5,51-55\")"));
    ranges.emplace_back(first, last);
  }
  return ranges;
}

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
    return absl::InvalidArgumentError(
        absl::StrCat(found, "; declare the stored value of white as image { pixel_max: ... }"));
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
  if (options.uploaded && !options.sources.empty())
    return absl::InvalidArgumentError("an uploaded dataset is one file: it has no sources");
  const DatasetFiles mat(options);
  if (options.train.stimuli.empty())
    return absl::InvalidArgumentError("train split names no stimuli variable");
  // The training stimuli decide an undeclared range; every image variable
  // is then checked against it.
  DatasetOptions resolved = options;
  {
    ASSIGN_OR_RETURN(const Eigen::MatrixXd raw, mat.Read(options.train.stimuli));
    RETURN_IF_ERROR(CheckFinite(raw, options.train.stimuli));
    ASSIGN_OR_RETURN(resolved.pixel_max,
                     ResolvePixelMax(raw, options.train.stimuli, options.pixel_max));
  }
  Dataset ds;
  ds.name = options.name;
  ds.image = options.image;
  ds.pixel_max = resolved.pixel_max;
  ds.mirror_symmetric = options.mirror_symmetric;
  ASSIGN_OR_RETURN(ds.train, LoadSplit(mat, resolved, options.train, "train"));
  if (!options.test_trials.empty()) {
    if (!options.test.betas.empty() || !options.test.stimuli.empty() ||
        !options.test.labels.empty())
      return absl::InvalidArgumentError(
          "name the test trials by test { ... } variables or by test_trials, not both");
    ASSIGN_OR_RETURN(const std::vector<bool> is_test,
                     SelectTestTrials(mat, options.test_trials, ds.train.betas.rows()));
    std::vector<Eigen::Index> train_rows, test_rows;
    for (size_t i = 0; i < is_test.size(); ++i)
      (is_test[i] ? test_rows : train_rows).push_back(static_cast<Eigen::Index>(i));
    const DatasetSplit all = std::move(ds.train);
    ds.train = SplitRows(all, train_rows);
    ds.test = SplitRows(all, test_rows);
  } else {
    ASSIGN_OR_RETURN(ds.test, LoadSplit(mat, resolved, options.test, "test"));
  }
  if (ds.train.stimuli.size() == 0) {
    return absl::InvalidArgumentError("train split names no stimuli variable");
  }
  if (ds.test.betas.cols() != ds.train.betas.cols()) {
    return absl::InvalidArgumentError(absl::StrCat("test betas have ", ds.test.betas.cols(),
                                                   " voxels; train betas have ",
                                                   ds.train.betas.cols()));
  }
  if (!options.unpaired_images.empty()) {
    ASSIGN_OR_RETURN(ds.unpaired, LoadImages(mat, resolved, options.unpaired_images, -1));
  }
  return ds;
}

absl::StatusOr<std::map<std::string, Eigen::MatrixXd>> ReadDatasetVariables(
    const DatasetOptions& options) {
  const DatasetFiles files(options);
  std::map<std::string, Eigen::MatrixXd> variables;
  for (const std::string* name :
       {&options.train.betas, &options.train.stimuli, &options.train.labels, &options.test.betas,
        &options.test.stimuli, &options.test.labels, &options.unpaired_images,
        &options.test_trials.variable}) {
    if (name->empty() || variables.count(*name) > 0) continue;
    ASSIGN_OR_RETURN(variables[*name], files.Read(*name));
  }
  return variables;
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
