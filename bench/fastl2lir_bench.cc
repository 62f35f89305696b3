// FastL2LiR fit time (core/decoding/fastl2lir.h) against a numpy
// implementation of the same algorithm (bench/fastl2lir_numpy.py), on the
// same seeded inputs, in one run: N trials x D voxels -> K targets, alpha,
// once with n_feat voxels selected per target and once with all voxels.
//
// Both sides get the same thread count (--threads, default every hardware
// thread): numpy through OPENBLAS_NUM_THREADS, ours through the BLAS thread
// count and FastL2LiROptions::threads. Runs alternate between the two, each
// numpy run in a fresh python3 that times only its fit (not its start or
// the loading of the inputs). Prints per case: runs, median seconds of
// each, the ratio ours / numpy, and the largest difference between the two
// fits' weights relative to the largest weight (exit 1 above
// --max_difference: the two implement one algorithm).
//
// With all voxels and fewer trials than voxels both sides take the dual
// form, X1'(X1X1' + alpha I)^-1 Y, whose two products (X1X1' and X1' times
// the solved N x K matrix) are most of its arithmetic whoever computes them.
// The "floor" row times those two products alone on our side, in the same
// run: floor / numpy is the best ratio any implementation of the algorithm
// on this BLAS can print.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "bench/bench_common.h"
#include "core/base/machine.h"
#include "core/base/stopwatch.h"
#include "core/data/npy.h"
#include "core/decoding/blas_threads.h"
#include "core/decoding/fastl2lir.h"
#include "core/decoding/lapack.h"

ABSL_FLAG(int, n, 1200, "Trials N.");
ABSL_FLAG(int, d, 4000, "Voxels D.");
ABSL_FLAG(int, k, 1000, "Targets K.");
ABSL_FLAG(double, alpha, 100, "Ridge alpha.");
ABSL_FLAG(int, n_feat, 500, "Voxels selected per target in the selection case.");
ABSL_FLAG(int, runs, 3, "Fits per side and case (the median is printed).");
ABSL_FLAG(int, threads, 0, "Threads for both sides (0: every hardware thread).");
ABSL_FLAG(std::string, python, "/usr/bin/python3", "Python with numpy (Debian python3-numpy).");
ABSL_FLAG(std::string, script, V2P_SOURCE_DIR "/bench/fastl2lir_numpy.py", "The numpy fit.");
ABSL_FLAG(double, max_difference, 1e-6,
          "Exit 1 when the two fits' weights differ by more (relative to the largest).");
ABSL_FLAG(std::string, cases, "select,all", "Cases to run: select, all.");

namespace {

namespace bench = v2p::bench;
namespace core = v2p::core;
namespace fs = std::filesystem;

// Runs the numpy fit once; returns its seconds (< 0 on failure).
double RunNumpy(const std::string& dir, int n_feat, int threads) {
  const std::string cmd =
      absl::StrCat("OPENBLAS_NUM_THREADS=", threads, " OMP_NUM_THREADS=", threads, " ",
                   absl::GetFlag(FLAGS_python), " ", absl::GetFlag(FLAGS_script), " --x ", dir,
                   "/x.npy --y ", dir, "/y.npy --alpha ", absl::GetFlag(FLAGS_alpha), " --n_feat ",
                   n_feat, " --out ", dir, "/wb_numpy.npy");
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  double seconds = -1;
  char line[256];
  while (std::fgets(line, sizeof(line), p) != nullptr) std::sscanf(line, "seconds %lf", &seconds);
  if (pclose(p) != 0) return -1;
  return seconds;
}

// Largest |ours - numpy| over the largest |numpy| of [W; b].
double RelativeDifference(const std::string& dir, const core::LinearFit& ours) {
  auto a = core::ReadNpy(dir + "/wb_numpy.npy");
  if (!a.ok()) return -1;
  auto wb = a->AsMatrix();
  if (!wb.ok() || wb->rows() != ours.weights.rows() + 1 || wb->cols() != ours.weights.cols())
    return -1;
  Eigen::MatrixXd mine(wb->rows(), wb->cols());
  mine.topRows(ours.weights.rows()) = ours.weights;
  mine.bottomRows(1) = ours.bias;
  return (mine - *wb).cwiseAbs().maxCoeff() / std::max(1e-300, wb->cwiseAbs().maxCoeff());
}

// Seeded inputs: X standard normal, Y a random linear map of X plus noise
// of equal variance.
void SeededInputs(int n, int d, int k, Eigen::MatrixXd* x, Eigen::MatrixXd* y) {
  std::mt19937_64 rng(42);
  std::normal_distribution<double> g(0, 1);
  Eigen::MatrixXd map(d, k);
  x->resize(n, d);
  y->resize(n, k);
  for (Eigen::Index i = 0; i < x->size(); ++i) x->data()[i] = g(rng);
  for (Eigen::Index i = 0; i < map.size(); ++i) map.data()[i] = g(rng) / std::sqrt(d);
  for (Eigen::Index i = 0; i < y->size(); ++i) y->data()[i] = g(rng);
  *y += *x * map;
}

// Median seconds of the dual's two products alone (X1X1' by dsyrk, X1'M by
// dgemm, M of the solved system's shape), timed as the fit runs them.
double FloorSeconds(const Eigen::MatrixXd& x, Eigen::Index k, int runs) {
  Eigen::MatrixXd x1(x.rows(), x.cols() + 1);
  x1 << x, Eigen::VectorXd::Ones(x.rows());
  const Eigen::MatrixXd solved = Eigen::MatrixXd::Ones(x.rows(), k);
  std::vector<double> floor;
  for (int r = 0; r < runs; ++r) {
    core::Stopwatch w;
    const Eigen::MatrixXd gram = core::GramOfRows(x1);
    const Eigen::MatrixXd wb = x1.transpose() * solved;
    floor.push_back(absl::ToDoubleSeconds(w.Elapsed()));
    if (gram(0, 0) + wb(0, 0) == 0) std::printf(" ");  // keep both products
  }
  return bench::Median(floor);
}

// One case ("select" or "all"), runs alternating with numpy; prints its row
// (and the floor row for the dual). False when a fit fails or the two fits
// differ by more than --max_difference.
bool RunCase(const std::string& which, const Eigen::MatrixXd& x, const Eigen::MatrixXd& y,
             const std::string& dir, int runs, int threads) {
  core::FastL2LiROptions o;
  o.alpha = absl::GetFlag(FLAGS_alpha);
  o.n_feat = which == "select" ? absl::GetFlag(FLAGS_n_feat) : 0;
  o.threads = threads;
  std::vector<double> ours, numpy;
  core::LinearFit fit;
  for (int r = 0; r < runs; ++r) {
    const double py = RunNumpy(dir, o.n_feat, threads);
    core::Stopwatch w;
    auto f = core::FitFastL2LiR(x, y, o);
    ours.push_back(absl::ToDoubleSeconds(w.Elapsed()));
    if (py < 0 || !f.ok()) {
      std::fprintf(stderr, "fastl2lir_bench: %s fit failed (numpy %s, ours %s)\n", which.c_str(),
                   py < 0 ? "failed" : "ok",
                   f.ok() ? "ok" : std::string(f.status().message()).c_str());
      return false;
    }
    numpy.push_back(py);
    fit = *std::move(f);
  }
  const std::string label =
      which == "select" ? absl::StrCat(o.n_feat, " voxels selected") : "all voxels";
  const double mo = bench::Median(ours), mn = bench::Median(numpy);
  const double diff = RelativeDifference(dir, fit);
  std::printf("%-22s %5d %12.3f %12.3f %12.3f %14.2e\n", label.c_str(), runs, mo, mn, mo / mn,
              diff);
  if (which == "all" && x.rows() < x.cols() + 1) {
    const double mf = FloorSeconds(x, y.cols(), runs);
    std::printf("%-22s %5d %12.3f %12s %12.3f %14s\n", "floor (2 products)", runs, mf, "", mf / mn,
                "");
  }
  std::fflush(stdout);
  // The two implement one algorithm: a fit that differs is a bug, not a
  // figure.
  if (!(diff >= 0 && diff <= absl::GetFlag(FLAGS_max_difference))) {
    std::fprintf(stderr, "fastl2lir_bench: %s fits differ by %g (limit %g)\n", label.c_str(), diff,
                 absl::GetFlag(FLAGS_max_difference));
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int n = absl::GetFlag(FLAGS_n), d = absl::GetFlag(FLAGS_d), k = absl::GetFlag(FLAGS_k);
  const int runs = std::max(1, absl::GetFlag(FLAGS_runs));
  const int threads = absl::GetFlag(FLAGS_threads) > 0
                          ? absl::GetFlag(FLAGS_threads)
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  Eigen::MatrixXd x, y;
  SeededInputs(n, d, k, &x, &y);
  const std::string dir =
      absl::StrCat(fs::temp_directory_path().string(), "/fastl2lir_bench_", getpid());
  fs::create_directories(dir);
  if (!core::WriteNpyFloat64(dir + "/x.npy", x).ok() ||
      !core::WriteNpyFloat64(dir + "/y.npy", y).ok()) {
    std::fprintf(stderr, "fastl2lir_bench: cannot write the inputs under %s\n", dir.c_str());
    return 1;
  }
  core::SetBlasThreads(threads);
  std::printf(
      "fastl2lir_bench: N = %d trials, D = %d voxels, K = %d targets, alpha = %g, "
      "float64, seeded inputs\n",
      n, d, k, absl::GetFlag(FLAGS_alpha));
  std::printf("machine: %s, %u hardware threads; %d threads for both sides\n",
              core::CpuModelName().c_str(), std::thread::hardware_concurrency(), threads);
  std::printf("%-22s %5s %12s %12s %12s %14s\n", "case", "runs", "ours s", "numpy s", "ours/numpy",
              "max rel diff");
  int failures = 0;
  for (const std::string which : {"select", "all"}) {
    if (absl::GetFlag(FLAGS_cases).find(which) == std::string::npos) continue;
    if (!RunCase(which, x, y, dir, runs, threads)) ++failures;
  }
  fs::remove_all(dir);
  return failures == 0 ? 0 : 1;
}
