// The digit69 dataset (../shared/data/digit69) as the tests load it.
#ifndef V2P_TESTS_TESTING_DIGIT69_H_
#define V2P_TESTS_TESTING_DIGIT69_H_

#include <string>

#include "absl/status/status.h"
#include "core/data/dataset.h"

namespace v2p::testing {

// The `file` examples/digit69_dataset.pbtxt names (relative to examples/),
// for tests that write a variant of that description.
inline constexpr char kExampleDigit69File[] = "../../shared/data/digit69/digit69_28x28.mat";

// digit69_28x28.mat: the standard 90/10 split, column-major 28x28 stimuli.
core::DatasetOptions Digit69Options();

// Writes a new MATLAB file at `path` holding digit69_28x28.mat's variables
// and, as "X_prior", the 2000 unpaired sixes and nines of 69dataset2.mat:
// one file a lab would upload to train a generator in the service. Returns
// its description (unpaired_images = "X_prior").
absl::StatusOr<core::DatasetOptions> WriteDigit69WithPrior(const std::string& path);

}  // namespace v2p::testing

#endif  // V2P_TESTS_TESTING_DIGIT69_H_
