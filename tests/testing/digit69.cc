#include "tests/testing/digit69.h"

#include <utility>
#include <vector>

#include "core/base/status_macros.h"
#include "core/data/mat_file.h"
#include "tests/testing/test_paths.h"

namespace v2p::testing {

core::DatasetOptions Digit69Options() { return core::Digit69DatasetOptions(DataDir()); }

absl::StatusOr<core::DatasetOptions> WriteDigit69WithPrior(const std::string& path) {
  core::DatasetOptions o = Digit69Options();
  ASSIGN_OR_RETURN(auto split, core::MatFile::Open(o.file));
  ASSIGN_OR_RETURN(auto prior, core::MatFile::Open(DataDir() + "/digit69/69dataset2.mat"));
  std::vector<std::pair<std::string, Eigen::MatrixXd>> vars;
  for (const std::string& name : {o.train.betas, o.train.stimuli, o.train.labels, o.test.betas,
                                  o.test.stimuli, o.test.labels}) {
    ASSIGN_OR_RETURN(Eigen::MatrixXd m, split->ReadMatrix(name));
    vars.emplace_back(name, std::move(m));
  }
  ASSIGN_OR_RETURN(Eigen::MatrixXd x_prior, prior->ReadMatrix("X_prior"));
  vars.emplace_back("X_prior", std::move(x_prior));
  RETURN_IF_ERROR(core::WriteMatFile(path, vars));
  o.file = path;
  o.unpaired_images = "X_prior";
  return o;
}

}  // namespace v2p::testing
