// Fit time and peak memory of SMR (Du et al. AAAI 2020; core/decoding/smr.h)
// against ridge (FastL2LiR semantics) at the sizes: all D = 3092
// digit69 voxels of the 90 training trials, K = 500, 1000 and 2000 units.
// The units are synthetic (a random linear map of the betas plus noise of
// equal variance): the cost of a fit depends on the sizes, not on what the
// units are, and the project's own network has 1,824 units in fc6+conv5.
//
// Each fit runs in a child process (fork), so its peak resident memory
// (getrusage ru_maxrss of that child alone) is the fit's own, not the
// largest of everything measured before it. Prints one row per decoder and
// K: runs, median wall time, time per SMR iteration (the outer iterations
// alone, without the start), peak RSS, and the time against ridge measured
// in the same run. SMR runs twice per K: as it fits (reusing decompositions
// between steps) and recomputing each decomposition where it is used
// (SmrOptions::reuse_decompositions = false, the fit before the reuse); the
// "ratio" row divides their times per iteration.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_split.h"
#include "bench/bench_common.h"
#include "core/base/machine.h"
#include "core/base/stopwatch.h"
#include "core/data/dataset.h"
#include "core/decoding/ridge_decoder.h"
#include "core/decoding/smr.h"

ABSL_FLAG(std::string, data_root, V2P_DATA_DIR, "Shared data directory.");
ABSL_FLAG(std::string, units, "500,1000,2000", "Unit counts K to measure.");
ABSL_FLAG(int, runs, 1, "Fits per decoder and K (the median is printed).");
ABSL_FLAG(int, iterations, 3, "SMR outer iterations per fit.");
ABSL_FLAG(std::string, variant, "SMR", "SMR variant (see SmrOptions::Variant).");

namespace {

namespace bench = v2p::bench;
namespace core = v2p::core;

struct Measured {
  double seconds = -1;
  double peak_mb = -1;
  int iterations = 0;
  double iterating_seconds = -1;  // the outer iterations alone (SMR)
};

// Runs `fit` in a child; the child writes its wall time, iteration count
// and the time of the iterations alone (fit's out-parameter) to a pipe, the
// parent collects them with the child's peak RSS.
template <typename Fit>
Measured InChild(Fit fit) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    core::Stopwatch w;
    double iterating = -1;
    const int iterations = fit(&iterating);
    double out[3] = {absl::ToDoubleSeconds(w.Elapsed()), static_cast<double>(iterations),
                     iterating};
    if (iterations < 0) out[0] = -1;
    (void)!write(fds[1], out, sizeof(out));
    _exit(0);
  }
  close(fds[1]);
  double in[3] = {-1, 0, -1};
  (void)!read(fds[0], in, sizeof(in));
  close(fds[0]);
  int status = 0;
  struct rusage usage {};
  wait4(pid, &status, 0, &usage);
  Measured m;
  m.seconds = in[0];
  m.iterations = static_cast<int>(in[1]);
  m.iterating_seconds = in[2];
  m.peak_mb = usage.ru_maxrss / 1024.0;  // kilobytes on Linux
  return m;
}

// Synthetic units: a random linear map of the betas plus noise of equal
// variance, seeded by k.
Eigen::MatrixXd SyntheticUnits(const Eigen::MatrixXd& x, int k) {
  std::mt19937_64 rng(k);
  std::normal_distribution<double> g(0, 1);
  Eigen::MatrixXd w(x.cols(), k), noise(x.rows(), k);
  for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = g(rng) / std::sqrt(x.cols());
  for (Eigen::Index i = 0; i < noise.size(); ++i) noise.data()[i] = g(rng);
  Eigen::MatrixXd h = x * w;
  h += noise * std::sqrt((h.rowwise() - h.colwise().mean()).squaredNorm() / h.size());
  return h;
}

// One SMR fit in its own process; reuse selects
// SmrOptions::reuse_decompositions.
Measured MeasureSmr(const Eigen::MatrixXd& x, const Eigen::MatrixXd& h,
                    const core::SmrOptions& options, bool reuse) {
  core::SmrOptions o = options;
  o.reuse_decompositions = reuse;
  return InChild([&](double* iterating) -> int {
    auto s = core::SmrSolver::Create(x, h, o);
    if (!s.ok()) return -1;
    core::Stopwatch fit;
    if (!(*s)->Fit().ok()) return -1;
    *iterating = absl::ToDoubleSeconds(fit.Elapsed());
    return static_cast<int>((*s)->objectives().size()) - 1;
  });
}

// Ridge and SMR twice at k units: reusing decompositions between steps (the
// default) and recomputing each where it is used (the fit before the
// reuse), alternating run by run. Prints the rows for k; false on a failed
// fit.
bool MeasureUnits(const Eigen::MatrixXd& x, int k, const core::SmrOptions& options, int runs) {
  const Eigen::MatrixXd h = SyntheticUnits(x, k);
  std::vector<double> ridge_t, smr_t[2], iter_t[2];
  double ridge_mb = 0, smr_mb[2] = {0, 0};
  int smr_iterations[2] = {0, 0};
  for (int r = 0; r < runs; ++r) {
    const Measured rm = InChild([&](double*) {
      core::RidgeDecoder::Options ro;
      ro.regression.alpha = 1000;
      return core::RidgeDecoder::Fit(x, h, ro).ok() ? 1 : -1;
    });
    if (rm.seconds < 0) {
      std::fprintf(stderr, "smr_fit_bench: the ridge fit failed at K = %d\n", k);
      return false;
    }
    ridge_t.push_back(rm.seconds);
    ridge_mb = std::max(ridge_mb, rm.peak_mb);
    for (int reuse : {1, 0}) {
      const Measured sm = MeasureSmr(x, h, options, reuse == 1);
      if (sm.seconds < 0) {
        std::fprintf(stderr, "smr_fit_bench: an SMR fit failed at K = %d\n", k);
        return false;
      }
      smr_t[reuse].push_back(sm.seconds);
      iter_t[reuse].push_back(sm.iterating_seconds / std::max(1, sm.iterations));
      smr_mb[reuse] = std::max(smr_mb[reuse], sm.peak_mb);
      smr_iterations[reuse] = sm.iterations;
    }
  }
  const double rt = bench::Median(ridge_t);
  std::printf("%-10s %6d %5d %10.2f %12s %10.0f %10s\n", "ridge", k, runs, rt, "-", ridge_mb, "");
  for (int reuse : {0, 1}) {
    const double st = bench::Median(smr_t[reuse]);
    std::printf("%-10s %6d %5d %10.2f %12.2f %10.0f %9.1fx\n", reuse ? "SMR" : "SMR-recomp", k,
                runs, st, bench::Median(iter_t[reuse]), smr_mb[reuse], st / rt);
  }
  std::printf("%-10s %6d  per iteration, reusing / recomputing: %.2f (%d and %d iterations)\n",
              "ratio", k, bench::Median(iter_t[1]) / bench::Median(iter_t[0]), smr_iterations[1],
              smr_iterations[0]);
  std::fflush(stdout);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  auto ds = core::LoadDataset(core::Digit69DatasetOptions(absl::GetFlag(FLAGS_data_root)));
  if (!ds.ok()) {
    std::fprintf(stderr, "smr_fit_bench: %s\n", std::string(ds.status().message()).c_str());
    return 1;
  }
  const Eigen::MatrixXd& x = ds->train.betas;
  const int runs = std::max(1, absl::GetFlag(FLAGS_runs));
  auto options = core::SmrOptions::Variant(absl::GetFlag(FLAGS_variant));
  if (!options.ok()) {
    std::fprintf(stderr, "smr_fit_bench: %s\n", std::string(options.status().message()).c_str());
    return 1;
  }
  options->max_iterations = absl::GetFlag(FLAGS_iterations);
  options->tolerance = 0;  // run every iteration, for a per-iteration figure
  options->lambda1 = 30;

  std::printf(
      "smr_fit_bench: %s vs ridge, N = %lld trials x D = %lld voxels (digit69 train), "
      "synthetic units; each fit in its own process\n",
      absl::GetFlag(FLAGS_variant).c_str(), static_cast<long long>(x.rows()),
      static_cast<long long>(x.cols()));
  const char* blas = std::getenv("OPENBLAS_NUM_THREADS");
  std::printf("machine: %s, %u hardware threads, OpenBLAS threads %s\n",
              core::CpuModelName().c_str(), std::thread::hardware_concurrency(),
              blas != nullptr ? blas : "default (all)");
  std::printf("%-10s %6s %5s %10s %12s %10s %10s\n", "fit", "K", "runs", "median s", "s/iteration",
              "peak MB", "vs ridge");
  for (absl::string_view ks : absl::StrSplit(absl::GetFlag(FLAGS_units), ',')) {
    if (!MeasureUnits(x, std::stoi(std::string(ks)), *options, runs)) return 1;
  }
  return 0;
}
