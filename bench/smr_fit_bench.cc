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
// K: runs, median wall time, time per SMR iteration, peak RSS, and the
// SMR/ridge time ratio measured in the same run.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
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

namespace core = v2p::core;

struct Measured {
  double seconds = -1;
  double peak_mb = -1;
  int iterations = 0;
};

// Runs `fit` in a child; the child writes its wall time and iteration count
// to a pipe, the parent collects them with the child's peak RSS.
template <typename Fit>
Measured InChild(Fit fit) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    core::Stopwatch w;
    const int iterations = fit();
    double out[2] = {absl::ToDoubleSeconds(w.Elapsed()), static_cast<double>(iterations)};
    if (iterations < 0) out[0] = -1;
    (void)!write(fds[1], out, sizeof(out));
    _exit(0);
  }
  close(fds[1]);
  double in[2] = {-1, 0};
  (void)!read(fds[0], in, sizeof(in));
  close(fds[0]);
  int status = 0;
  struct rusage usage {};
  wait4(pid, &status, 0, &usage);
  Measured m;
  m.seconds = in[0];
  m.iterations = static_cast<int>(in[1]);
  m.peak_mb = usage.ru_maxrss / 1024.0;  // kilobytes on Linux
  return m;
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

  std::printf("smr_fit_bench: %s vs ridge, N = %lld trials x D = %lld voxels (digit69 train), "
              "synthetic units; each fit in its own process\n",
              absl::GetFlag(FLAGS_variant).c_str(), static_cast<long long>(x.rows()),
              static_cast<long long>(x.cols()));
  const char* blas = std::getenv("OPENBLAS_NUM_THREADS");
  std::printf("machine: %s, %u hardware threads, OpenBLAS threads %s\n", core::CpuModelName().c_str(),
              std::thread::hardware_concurrency(), blas != nullptr ? blas : "default (all)");
  std::printf("%-6s %6s %5s %12s %12s %10s %12s\n", "fit", "K", "runs", "median s", "s/iteration",
              "peak MB", "SMR/ridge");
  for (absl::string_view ks : absl::StrSplit(absl::GetFlag(FLAGS_units), ',')) {
    const int k = std::stoi(std::string(ks));
    std::mt19937_64 rng(k);
    std::normal_distribution<double> g(0, 1);
    Eigen::MatrixXd w(x.cols(), k), noise(x.rows(), k);
    for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = g(rng) / std::sqrt(x.cols());
    for (Eigen::Index i = 0; i < noise.size(); ++i) noise.data()[i] = g(rng);
    Eigen::MatrixXd h = x * w;
    h += noise * std::sqrt((h.rowwise() - h.colwise().mean()).squaredNorm() / h.size());

    std::vector<double> ridge_t, smr_t;
    double ridge_mb = 0, smr_mb = 0;
    int smr_iterations = 0;
    for (int r = 0; r < runs; ++r) {
      const Measured rm = InChild([&] {
        core::RidgeDecoder::Options ro;
        ro.regression.alpha = 1000;
        return core::RidgeDecoder::Fit(x, h, ro).ok() ? 1 : -1;
      });
      const Measured sm = InChild([&]() -> int {
        auto s = core::SmrSolver::Create(x, h, *options);
        if (!s.ok() || !(*s)->Fit().ok()) return -1;
        return static_cast<int>((*s)->objectives().size()) - 1;
      });
      if (rm.seconds < 0 || sm.seconds < 0) {
        std::fprintf(stderr, "smr_fit_bench: a fit failed at K = %d\n", k);
        return 1;
      }
      ridge_t.push_back(rm.seconds);
      smr_t.push_back(sm.seconds);
      ridge_mb = std::max(ridge_mb, rm.peak_mb);
      smr_mb = std::max(smr_mb, sm.peak_mb);
      smr_iterations = sm.iterations;
    }
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
    };
    const double rt = median(ridge_t), st = median(smr_t);
    std::printf("%-6s %6d %5d %12.2f %12s %10.0f %12s\n", "ridge", k, runs, rt, "-", ridge_mb, "");
    std::printf("%-6s %6d %5d %12.2f %12.2f %10.0f %11.1fx\n", "SMR", k, runs, st,
                st / std::max(1, smr_iterations), smr_mb, st / rt);
    std::fflush(stdout);
  }
  return 0;
}
