// What every benchmark needs first: the digit69 ridge model, trained into
// a temporary repository.
#ifndef V2P_BENCH_BENCH_COMMON_H_
#define V2P_BENCH_BENCH_COMMON_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/data/dataset.h"

namespace v2p::bench {

struct Digit69Model {
  core::Dataset dataset;
  std::string repository;  // a fresh temporary directory; the caller removes it
  std::string model;       // name of the trained model (version 1)
};

// Loads ../shared/data/digit69 from `data_root` and trains the README's
// ridge pipeline (alpha 1000, z-scored voxels) as `model`.
absl::StatusOr<Digit69Model> TrainDigit69Ridge(const std::string& data_root,
                                               const std::string& model);

// The median (the mean of the middle two for an even count); 0 when empty.
double Median(std::vector<double> v);

}  // namespace v2p::bench

#endif  // V2P_BENCH_BENCH_COMMON_H_
