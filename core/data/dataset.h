// A paired fMRI dataset (betas + stimuli) with a train and a test split,
// loaded by a description of which variables, in which files, hold what.
// Samples are rows everywhere.
#ifndef V2P_CORE_DATA_DATASET_H_
#define V2P_CORE_DATA_DATASET_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/data/image.h"

namespace v2p::core {

// Test trials named as a subset of the rows of the train split's
// variables, which then hold every trial: by trial numbers counted from 1
// (as MATLAB counts rows), or by the value of a per-trial variable (a run,
// session or label). The remaining trials train.
struct TrialSelection {
  // Inclusive [first, last] trial numbers, from 1.
  std::vector<std::pair<int64_t, int64_t>> ranges;
  // A variable with one value per trial, and the values whose trials test.
  std::string variable;
  std::vector<double> values;
  bool empty() const { return ranges.empty() && variable.empty(); }
};

// Parses "1-5,51-55,70": comma-separated trial numbers or inclusive
// ranges, counted from 1. INVALID_ARGUMENT, quoting at most 64
// characters of the text, for anything else, a number below 1, a range
// that runs backwards, or text over 4096 characters.
absl::StatusOr<std::vector<std::pair<int64_t, int64_t>>> ParseTrialRanges(absl::string_view text);

struct DatasetOptions {
  struct Split {
    std::string betas;    // variable: samples x voxels
    std::string stimuli;  // variable: samples x pixels (optional for test)
    std::string labels;   // variable: samples x 1 (optional)
  };
  std::string name;
  // Resolved path of the file plain variable names are read from
  // (core/data/matrix_file.h); may be empty when every variable names a
  // source.
  std::string file;
  // More files: a variable written "<source>:<name>" anywhere below is
  // read from sources[source] (a folder of images gives "images").
  struct Source {
    std::string path;  // resolved
    std::string mask;  // NIfTI: resolved path of the mask volume, or empty
  };
  std::map<std::string, Source> sources;
  // The file came from a client (an upload): see MatrixFileOptions::uploaded.
  bool uploaded = false;
  Split train;
  Split test;
  ImageShape image;
  ImageLayout layout = ImageLayout::kRowMajor;
  // Stored value of white. 0: taken from the training stimuli (1 when
  // every value is <= 1, else 255 when every value is <= 255). A declared
  // value the stored images contradict (values above it, or every value
  // <= 1 under a declared maximum above 1) is refused.
  double pixel_max = 0;
  // Optional variable: images never shown in the scanner (n x pixels, in
  // the stimuli's layout and scale), for training generators.
  std::string unpaired_images;
  // When set, `test` names no variables: the test trials are these rows of
  // the train split's variables, and the other rows train.
  TrialSelection test_trials;
  // The stimuli's domain is closed under left-right mirroring (faces,
  // scenes; not digits): generator images made from the training stimuli
  // may include their mirror images.
  bool mirror_symmetric = false;
};

struct DatasetSplit {
  Eigen::MatrixXd betas;    // n x voxels
  Eigen::MatrixXd stimuli;  // n x pixels, row-major HWC, in [0, 1]; may be empty
  Eigen::VectorXi labels;   // n; may be empty
};

struct Dataset {
  std::string name;
  ImageShape image;
  DatasetSplit train;
  DatasetSplit test;
  Eigen::MatrixXd unpaired;       // n x pixels, row-major HWC in [0, 1]; may be empty
  bool mirror_symmetric = false;  // see DatasetOptions
  // The stored value of white the images were divided by when loaded; 1 for
  // images made in memory (simulations), already in [0, 1].
  double pixel_max = 1;
};

// The trials `rows` of `split` (betas, and stimuli and labels when present),
// in that order.
DatasetSplit SplitRows(const DatasetSplit& split, const std::vector<Eigen::Index>& rows);

// The trials of `a` then those of `b` (a dataset's train and test pooled,
// for cross-validation over every trial). Stimuli are kept only when both
// have them, labels likewise.
DatasetSplit ConcatenateSplits(const DatasetSplit& a, const DatasetSplit& b);

// pixel_max for images `raw` stored in variable `var`: `declared` when it
// is > 0 and the values agree with it, else inferred (1 when every value is
// <= 1, else 255 when every value is <= 255). INVALID_ARGUMENT, saying
// what was found, for negative values, values above the declared maximum,
// every value <= 1 under a declared maximum above 1, or values above 255
// with nothing declared.
absl::StatusOr<double> ResolvePixelMax(const Eigen::MatrixXd& raw, const std::string& var,
                                       double declared);

// Loads and checks the dataset: sample counts agree within a split, voxel
// counts agree across splits, stimuli have image.num_pixels() columns,
// every value is finite, and every image value lies in [0, pixel_max] for
// the declared or inferred pixel_max (see DatasetOptions). Errors name the
// variable, the offending shape or the range found.
absl::StatusOr<Dataset> LoadDataset(const DatasetOptions& options);

// Every variable `options` names (betas, stimuli, labels, unpaired images,
// the test-trial variable), read raw as stored, keyed as named
// ("bold:betas", "stimTrn"): what a bundle of the dataset into one file
// holds. Errors as LoadDataset's for a missing file or variable.
absl::StatusOr<std::map<std::string, Eigen::MatrixXd>> ReadDatasetVariables(
    const DatasetOptions& options);

// The shipped real dataset, `<data_root>/digit69/digit69_28x28.mat`: the
// standard 90/10 split, 28x28 grey stimuli stored column-major (MATLAB),
// 0..255, with labels.
DatasetOptions Digit69DatasetOptions(const std::string& data_root);

}  // namespace v2p::core

#endif  // V2P_CORE_DATA_DATASET_H_
