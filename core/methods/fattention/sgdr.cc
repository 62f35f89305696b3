#include "core/methods/fattention/sgdr.h"

#include <algorithm>
#include <cmath>

namespace v2p::core {

double SgdrSchedule::Rate(int step) const {
  if (step < warmup_steps) return peak * (step + 1) / warmup_steps;
  double t = step - warmup_steps;
  double period = std::max(1, period_steps);
  const double mult = std::max(1.0, period_mult);
  while (t >= period) {
    t -= period;
    period *= mult;
  }
  return floor + (peak - floor) * (1 + std::cos(M_PI * t / period)) / 2;
}

}  // namespace v2p::core
