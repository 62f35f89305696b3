// A paired fMRI dataset (betas + stimuli) with a train and a test split,
// loaded from one MATLAB file by a description of which variables hold
// what. Samples are rows everywhere.
#ifndef V2P_CORE_DATA_DATASET_H_
#define V2P_CORE_DATA_DATASET_H_

#include <string>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "core/data/image.h"

namespace v2p::core {

struct DatasetOptions {
  struct Split {
    std::string betas;    // variable: samples x voxels
    std::string stimuli;  // variable: samples x pixels (optional for test)
    std::string labels;   // variable: samples x 1 (optional)
  };
  std::string name;
  std::string file;  // resolved path to the .mat file
  Split train;
  Split test;
  ImageShape image;
  ImageLayout layout = ImageLayout::kRowMajor;
  double pixel_max = 255.0;  // stored value of white
  // Optional variable: images never shown in the scanner (n x pixels, in
  // the stimuli's layout and scale), for training generators.
  std::string unpaired_images;
};

struct DatasetSplit {
  Eigen::MatrixXd betas;  // n x voxels
  Eigen::MatrixXd
      stimuli;             // n x pixels, row-major HWC, in [0, 1]; may be empty
  Eigen::VectorXi labels;  // n; may be empty
};

struct Dataset {
  std::string name;
  ImageShape image;
  DatasetSplit train;
  DatasetSplit test;
  Eigen::MatrixXd unpaired;  // n x pixels, row-major HWC in [0, 1]; may be empty
};

// Loads and checks the dataset: sample counts agree within a split, voxel
// counts agree across splits, stimuli have image.num_pixels() columns and
// every value is finite. Errors name the variable and the offending shape.
absl::StatusOr<Dataset> LoadDataset(const DatasetOptions& options);

// The shipped real dataset, `<data_root>/digit69/digit69_28x28.mat`: the
// standard 90/10 split, 28x28 grey stimuli stored column-major (MATLAB),
// 0..255, with labels.
DatasetOptions Digit69DatasetOptions(const std::string& data_root);

}  // namespace v2p::core

#endif  // V2P_CORE_DATA_DATASET_H_
