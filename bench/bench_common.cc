#include "bench/bench_common.h"

#include <stdlib.h>

#include <algorithm>

#include "core/base/status_macros.h"
#include "core/methods/pixels/pixels_method.h"
#include "core/pipeline/trainer.h"

namespace v2p::bench {

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t h = v.size() / 2;
  return v.size() % 2 == 1 ? v[h] : (v[h - 1] + v[h]) / 2;
}

absl::StatusOr<Digit69Model> TrainDigit69Ridge(const std::string& data_root,
                                               const std::string& model) {
  const core::DatasetOptions d = core::Digit69DatasetOptions(data_root);
  Digit69Model out;
  ASSIGN_OR_RETURN(out.dataset, core::LoadDataset(d));
  char tmpl[] = "/tmp/v2p-bench-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return absl::InternalError("mkdtemp failed");
  out.repository = tmpl;
  out.model = model;
  ASSIGN_OR_RETURN(auto repo, core::ModelRepository::Open({out.repository, true}));
  core::TrainRequest req;
  req.model_name = model;
  core::PixelsOptions pixels;
  pixels.ridge.ridge = {{1e3, 0, 0}, true, false};
  req.method = std::make_shared<core::PixelsMethod>(pixels);
  RETURN_IF_ERROR(core::TrainModel(out.dataset, req, *repo).status());
  return out;
}

}  // namespace v2p::bench
