// Stochastic gradient descent with warm restarts (Loshchilov & Hutter,
// ICLR 2017), as the foreground-attention paper schedules its attention
// decoder: a linear warm-up to the peak rate, then cosine annealing down to
// the floor over a period, restarted at the peak, each period `period_mult`
// times the last.
#ifndef V2P_CORE_METHODS_FATTENTION_SGDR_H_
#define V2P_CORE_METHODS_FATTENTION_SGDR_H_

namespace v2p::core {

struct SgdrSchedule {
  double peak = 0.03;   // the paper's
  double floor = 4e-5;  // the paper's
  int warmup_steps = 10;
  int period_steps = 100;  // the first cosine period, after the warm-up
  double period_mult = 1;  // >= 1

  // The rate for 0-based optimiser step `step`: peak * (step + 1) /
  // warmup_steps during the warm-up; then, t steps into a period of T,
  // floor + (peak - floor) * (1 + cos(pi * t / T)) / 2.
  double Rate(int step) const;
};

}  // namespace v2p::core

#endif  // V2P_CORE_METHODS_FATTENTION_SGDR_H_
