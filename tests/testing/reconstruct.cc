#include "tests/testing/reconstruct.h"

#include <chrono>

#include "absl/strings/str_cat.h"

namespace v2p::testing {

namespace v1 = voxel2pixel::v1;

v1::Sample BetasSample(const Eigen::MatrixXd& betas, Eigen::Index i, const std::string& id) {
  v1::Sample s;
  s.set_id(id);
  s.mutable_betas()->Reserve(static_cast<int>(betas.cols()));
  for (Eigen::Index v = 0; v < betas.cols(); ++v) s.add_betas(static_cast<float>(betas(i, v)));
  return s;
}

grpc::Status ReconstructTestTrials(v1::Reconstruction::Stub& stub, const std::string& model,
                                   const core::Dataset& ds, bool include_pixels, int num_samples,
                                   v1::ReconstructResponse* response) {
  v1::ReconstructRequest request;
  request.set_model(model);
  request.set_include_pixels(include_pixels);
  request.set_num_samples(num_samples);
  for (Eigen::Index i = 0; i < ds.test.betas.rows(); ++i)
    *request.add_samples() = BetasSample(ds.test.betas, i, absl::StrCat("t", i));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  return stub.Reconstruct(&context, request, response);
}

}  // namespace v2p::testing
