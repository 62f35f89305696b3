#include "experiments/evaluation_support.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/data/image.h"
#include "core/data/image_corpus.h"
#include "core/data/mat_file.h"
#include "core/methods/registry.h"
#include "core/pipeline/model_repository.h"

namespace v2p::client {

namespace fs = std::filesystem;

absl::StatusOr<Eigen::MatrixXf> Digit69XPrior(const std::string& data_root) {
  ASSIGN_OR_RETURN(auto mat, core::MatFile::Open(data_root + "/digit69/69dataset2.mat"));
  ASSIGN_OR_RETURN(const Eigen::MatrixXd prior, mat->ReadMatrix("X_prior"));
  return Eigen::MatrixXf(core::ToRowMajorImages(prior / 255.0, core::ImageShape{28, 28, 1},
                                                core::ImageLayout::kColumnMajor)
                             .cast<float>());
}

absl::StatusOr<Eigen::MatrixXf> Digit69PriorImages(const std::string& data_root) {
  ASSIGN_OR_RETURN(const Eigen::MatrixXf rows, Digit69XPrior(data_root));
  ASSIGN_OR_RETURN(
      core::LabeledImages mnist,
      core::ReadIdx(data_root + "/corpora/mnist/mnist-10k-images-idx3-ubyte",
                    data_root + "/corpora/mnist/mnist-10k-labels-idx1-ubyte", "mnist"));
  std::vector<int> keep;
  for (int i = 0; i < mnist.size(); ++i)
    if (mnist.labels[i] == 6 || mnist.labels[i] == 9) keep.push_back(i);
  Eigen::MatrixXf out(rows.rows() + keep.size(), 784);
  out.topRows(rows.rows()) = rows;
  for (size_t i = 0; i < keep.size(); ++i) out.row(rows.rows() + i) = mnist.images.row(keep[i]);
  return out;
}

absl::StatusOr<std::unique_ptr<ScratchRepository>> ScratchRepository::Create(
    const std::string& repo, const std::string& tag) {
  const std::string root = (fs::temp_directory_path() / absl::StrCat("v2p-", tag)).string();
  std::error_code ec;
  fs::remove_all(root, ec);
  fs::create_directories(root + "/generators", ec);
  if (ec) return absl::InternalError(absl::StrCat("creating ", root, ": ", ec.message()));
  std::unique_ptr<ScratchRepository> s(new ScratchRepository(root));
  fs::create_symlink(fs::absolute(repo) / "feature_networks", root + "/feature_networks", ec);
  if (ec) return absl::InternalError(absl::StrCat("linking the feature networks: ", ec.message()));
  return s;
}

ScratchRepository::~ScratchRepository() {
  std::error_code ec;
  fs::remove_all(root_, ec);
}

absl::Status ScratchRepository::LinkGenerator(const std::string& repo, const std::string& name) {
  RETURN_IF_ERROR(core::ValidateModelName(name));
  const fs::path from = fs::absolute(repo) / "generators" / name;
  if (!fs::is_directory(from))
    return absl::NotFoundError(absl::StrCat("no generator ", name, " in ", repo,
                                            "/generators (train it with v2p generators train)"));
  std::error_code ec;
  fs::create_directory_symlink(from, fs::path(root_) / "generators" / name, ec);
  if (ec) return absl::InternalError(absl::StrCat("linking generator ", name, ": ", ec.message()));
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const core::Pipeline>> ScratchRepository::Train(
    const core::Dataset& dataset, const core::TrainRequest& request) {
  ASSIGN_OR_RETURN(auto repo, core::ModelRepository::Open({root_, true}));
  ASSIGN_OR_RETURN(const core::ModelManifest m, core::TrainModel(dataset, request, *repo));
  ASSIGN_OR_RETURN(const std::string dir, repo->VerifiedVersionDir(m.name, m.version));
  return core::LoadPipeline(dir, m.version);
}

absl::StatusOr<PipelineOutputs> RunPipeline(const core::Pipeline& pipeline,
                                            const Eigen::MatrixXd& betas) {
  core::RunOptions no_png;
  no_png.encode_png = false;
  ASSIGN_OR_RETURN(const auto recs, pipeline.Run(betas.cast<float>(), no_png));
  PipelineOutputs out;
  const auto n = static_cast<Eigen::Index>(recs.size());
  if (n > 0 && recs[0].pixels.size() > 0) out.images.resize(n, recs[0].pixels.size());
  if (n > 0 && recs[0].features.size() > 0) out.features.resize(n, recs[0].features.size());
  for (Eigen::Index i = 0; i < n; ++i) {
    if (out.images.size() > 0) out.images.row(i) = recs[i].pixels.transpose();
    if (out.features.size() > 0) out.features.row(i) = recs[i].features.transpose();
  }
  return out;
}

}  // namespace v2p::client
