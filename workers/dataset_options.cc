#include "workers/dataset_options.h"

#include <filesystem>

#include "core/base/status_macros.h"
#include "core/data/image.h"
#include "spec/dataset_rules.h"

namespace v2p::worker {

namespace v1 = voxel2pixel::v1;

absl::StatusOr<core::DatasetOptions> ToDatasetOptions(const v1::DatasetDescription& d,
                                                      const std::string& data_root) {
  RETURN_IF_ERROR(spec::ValidateDatasetDescription(d));
  core::DatasetOptions o;
  o.name = d.name();
  auto resolve = [&](const std::string& path) -> std::string {
    if (path.empty()) return "";
    const std::filesystem::path p(path);
    return p.is_absolute() ? p.string() : (std::filesystem::path(data_root) / p).string();
  };
  o.file = resolve(d.file());
  for (const auto& [key, source] : d.sources())
    o.sources[key] = {resolve(source.path()), resolve(source.mask())};
  o.train = {d.train().betas(), d.train().stimuli(), d.train().labels()};
  o.test = {d.test().betas(), d.test().stimuli(), d.test().labels()};
  o.image = {d.image().height(), d.image().width(),
             d.image().channels() > 0 ? d.image().channels() : 1};
  switch (d.image().layout()) {
    case v1::IMAGE_LAYOUT_ROW_MAJOR:
      o.layout = core::ImageLayout::kRowMajor;
      break;
    case v1::IMAGE_LAYOUT_COLUMN_MAJOR:
      o.layout = core::ImageLayout::kColumnMajor;
      break;
    default:
      return absl::InvalidArgumentError(
          "dataset description: image.layout must be IMAGE_LAYOUT_ROW_MAJOR or "
          "IMAGE_LAYOUT_COLUMN_MAJOR");
  }
  o.pixel_max = d.image().pixel_max();  // 0: inferred from the training stimuli
  o.unpaired_images = d.unpaired_images();
  o.mirror_symmetric = d.mirror_symmetric();
  if (!d.test_trials().ranges().empty()) {
    ASSIGN_OR_RETURN(o.test_trials.ranges, core::ParseTrialRanges(d.test_trials().ranges()));
  }
  o.test_trials.variable = d.test_trials().variable();
  o.test_trials.values.assign(d.test_trials().values().begin(), d.test_trials().values().end());
  return o;
}

}  // namespace v2p::worker
