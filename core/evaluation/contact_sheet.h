// A grid of images in one PNG, for a person to look at: one row per
// matrix in `rows` (e.g. stimuli above reconstructions), one column per
// sample, separated by mid-grey gaps.
#ifndef V2P_CORE_EVALUATION_CONTACT_SHEET_H_
#define V2P_CORE_EVALUATION_CONTACT_SHEET_H_

#include <string>
#include <vector>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "core/data/image.h"

namespace v2p::core {

// Each matrix: n x pixels (row-major HWC, [0, 1]); all with the same n.
// `scale` enlarges each pixel; `gap` is in output pixels.
absl::StatusOr<std::string> ContactSheetPng(const std::vector<Eigen::MatrixXf>& rows,
                                            ImageShape shape, int scale = 4, int gap = 4);

}  // namespace v2p::core

#endif  // V2P_CORE_EVALUATION_CONTACT_SHEET_H_
