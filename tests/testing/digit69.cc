#include "tests/testing/digit69.h"

#include "tests/testing/test_paths.h"

namespace v2p::testing {

core::DatasetOptions Digit69Options() { return core::Digit69DatasetOptions(DataDir()); }

}  // namespace v2p::testing
