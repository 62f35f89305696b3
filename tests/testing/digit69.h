// The digit69 dataset (../shared/data/digit69) as the tests load it.
#ifndef V2P_TESTS_TESTING_DIGIT69_H_
#define V2P_TESTS_TESTING_DIGIT69_H_

#include "core/data/dataset.h"

namespace v2p::testing {

// digit69_28x28.mat: the standard 90/10 split, column-major 28x28 stimuli.
core::DatasetOptions Digit69Options();

}  // namespace v2p::testing

#endif  // V2P_TESTS_TESTING_DIGIT69_H_
