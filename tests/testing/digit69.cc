#include "tests/testing/digit69.h"

#include "tests/testing/test_paths.h"

namespace v2p::testing {

core::DatasetOptions Digit69Options() {
  core::DatasetOptions o;
  o.name = "digit69";
  o.file = DataDir() + "/digit69/digit69_28x28.mat";
  o.train = {"fmriTrn", "stimTrn", "labelTrn"};
  o.test = {"fmriTest", "stimTest", "labelTest"};
  o.image = {28, 28, 1};
  o.layout = core::ImageLayout::kColumnMajor;
  o.pixel_max = 255;
  return o;
}

}  // namespace v2p::testing
