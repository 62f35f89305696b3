// Regions of interest stored beside the betas, as in digit69's
// 69dataset2.mat: a 1 x k cell array of names and one of same-sized 3-D
// masks, the first region ("primary") the voxels the betas hold. The
// betas' columns are taken to be the primary mask's voxels in MATLAB's
// column-major order (the order of find(mask)); each region is given as
// the columns of the betas that lie inside it.
#ifndef V2P_CORE_DATA_REGIONS_H_
#define V2P_CORE_DATA_REGIONS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace v2p::core {

struct RegionOfInterest {
  std::string name;          // e.g. "lh.V1d.nii"
  std::vector<int> columns;  // columns of the betas inside it, ascending
};

// Every region of `labels_var` / `masks_var` in `path`, the first
// (primary) included. NOT_FOUND for a missing file or variable;
// DATA_LOSS when the cells are not names and numeric masks of one shape.
absl::StatusOr<std::vector<RegionOfInterest>> ReadRegionsOfInterest(const std::string& path,
                                                                    const std::string& labels_var,
                                                                    const std::string& masks_var);

// The union of the regions whose names contain any of `parts` (e.g.
// {"V1"}), ascending; the primary region (the first) is never matched.
std::vector<int> RegionColumns(const std::vector<RegionOfInterest>& regions,
                               const std::vector<std::string>& parts);

}  // namespace v2p::core

#endif  // V2P_CORE_DATA_REGIONS_H_
