// In-process throughput of the digit69 ridge pipeline by batch size: what
// batching can gain before any RPC. Prints samples/s for each batch size,
// with and without PNG encoding, and the gain over batch size 1; first the
// decode's matrix product alone, the ways it has been done: BLAS per row,
// one BLAS matrix product, the packed whole W (packed_weights.h), and the
// factored W = A B the decoder serves (low_rank.h); then one PNG of a
// reconstruction, deflated and stored (PngCompression); last, the finite
// check of a request's betas (CheckFiniteRows) against a plain loop of
// std::isfinite.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "bench/bench_common.h"
#include "core/base/stopwatch.h"
#include "core/data/dataset.h"
#include "core/data/image.h"
#include "core/data/npy.h"
#include "core/decoding/blas_threads.h"
#include "core/decoding/low_rank.h"
#include "core/decoding/packed_weights.h"
#include "core/methods/registry.h"
#include "core/pipeline/pipeline.h"

ABSL_FLAG(double, seconds, 1.0, "Measured time per batch size and mode.");
ABSL_FLAG(std::string, data_root, V2P_DATA_DIR, "Shared data directory.");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  namespace core = v2p::core;
  core::SetBlasThreads(1);
  auto trained = v2p::bench::TrainDigit69Ridge(absl::GetFlag(FLAGS_data_root), "m");
  if (!trained.ok()) return 1;
  auto loaded = core::LoadPipeline(trained->repository + "/models/m/1", 1);
  auto weights = core::ReadNpy(trained->repository + "/models/m/1/ridge_weights.npy");
  std::filesystem::remove_all(trained->repository);
  if (!loaded.ok() || !weights.ok()) return 1;
  const absl::StatusOr<Eigen::MatrixXd> w_read = weights->AsMatrix();
  if (!w_read.ok()) return 1;
  auto pipeline = *loaded;
  const core::Dataset* ds = &trained->dataset;

  std::printf(
      "batch_throughput_bench: digit69 ridge pipeline in-process, one thread, %.1f s per cell\n",
      absl::GetFlag(FLAGS_seconds));
  std::printf("machine: %u hardware threads\n", std::thread::hardware_concurrency());
  // The decode's matrix product alone, four ways, on the trained weights.
  {
    const Eigen::MatrixXf w = w_read->cast<float>();
    const core::PackedWeights packed(w);
    core::Stopwatch factoring;
    const std::optional<core::LowRankFactors> f = core::FactorLowRank(w);
    const double factor_s = absl::ToDoubleSeconds(factoring.Elapsed());
    if (!f) {
      std::fprintf(stderr, "batch_throughput_bench: the trained W has no low rank\n");
      return 1;
    }
    const core::PackedWeights a(f->a), b(f->b);
    std::printf("product X(batch x %d) * W(%d x %d), samples/s; W factored at rank %d in %.2f s:\n",
                static_cast<int>(w.rows()), static_cast<int>(w.rows()), static_cast<int>(w.cols()),
                f->rank(), factor_s);
    std::printf("%6s %14s %14s %14s %14s %9s\n", "batch", "BLAS per row", "BLAS matrix", "packed W",
                "packed A, B", "A,B / W");
    for (int batch : {1, 2, 3, 4, 6, 8, 16, 32, 64}) {
      const Eigen::MatrixXf x = Eigen::MatrixXf::Random(batch, w.rows());
      double rate[4];
      for (int kind = 0; kind < 4; ++kind) {
        core::Stopwatch w_time;
        int64_t samples = 0;
        Eigen::MatrixXf y(batch, w.cols());
        while (absl::ToDoubleSeconds(w_time.Elapsed()) < absl::GetFlag(FLAGS_seconds) / 2) {
          if (kind == 0) {
            for (int r = 0; r < batch; ++r) y.row(r).noalias() = x.row(r) * w;
          } else if (kind == 1) {
            y.noalias() = x * w;
          } else if (kind == 2) {
            y = packed.LeftMultiply(x);
          } else {
            y = b.LeftMultiply(a.LeftMultiply(x));
          }
          samples += batch;
        }
        rate[kind] = samples / absl::ToDoubleSeconds(w_time.Elapsed());
      }
      std::printf("%6d %14.0f %14.0f %14.0f %14.0f %8.1fx\n", batch, rate[0], rate[1], rate[2],
                  rate[3], rate[3] / rate[2]);
    }
  }
  std::printf("pipeline (as served):\n");
  std::printf("%6s %18s %18s %10s\n", "batch", "no PNG samples/s", "with PNG samples/s",
              "gain(no PNG)");
  double base = 0;
  for (int batch : {1, 2, 4, 8, 16, 32}) {
    Eigen::MatrixXf betas(batch, 3092);
    for (int i = 0; i < batch; ++i) betas.row(i) = ds->test.betas.row(i % 10).cast<float>();
    double rate[2];
    for (int png = 0; png < 2; ++png) {
      core::RunOptions o;
      o.encode_png = png == 1;
      core::Stopwatch w;
      int64_t samples = 0;
      while (absl::ToDoubleSeconds(w.Elapsed()) < absl::GetFlag(FLAGS_seconds)) {
        (void)pipeline->Run(betas, o);
        samples += batch;
      }
      rate[png] = samples / absl::ToDoubleSeconds(w.Elapsed());
    }
    if (batch == 1) base = rate[0];
    std::printf("%6d %18.0f %18.0f %9.2fx\n", batch, rate[0], rate[1], rate[0] / base);
  }
  // One PNG of each test reconstruction, each way EncodePng can write it:
  // what a served image costs to encode and to send.
  core::RunOptions no_png;
  no_png.encode_png = false;
  const Eigen::MatrixXf test_betas = ds->test.betas.cast<float>();
  auto recs = pipeline->Run(test_betas, no_png);
  if (!recs.ok() || recs->empty()) return 1;
  std::printf("PNG of a %dx%d reconstruction (the %zu test ones in turn):\n",
              pipeline->image_shape().height, pipeline->image_shape().width, recs->size());
  std::printf("%10s %12s %12s\n", "deflate", "us / image", "bytes");
  for (core::PngCompression c : {core::PngCompression::kFastest, core::PngCompression::kStored}) {
    core::Stopwatch w;
    int64_t images = 0, bytes = 0;
    while (absl::ToDoubleSeconds(w.Elapsed()) < absl::GetFlag(FLAGS_seconds)) {
      const core::Reconstruction& r = (*recs)[images % recs->size()];
      auto png = core::EncodePng(r.pixels.data(), pipeline->image_shape(), 1, c);
      if (!png.ok()) return 1;
      bytes += static_cast<int64_t>(png->size());
      ++images;
    }
    std::printf("%10s %12.2f %12.0f\n", c == core::PngCompression::kStored ? "stored" : "fastest",
                1e6 * absl::ToDoubleSeconds(w.Elapsed()) / images,
                static_cast<double>(bytes) / images);
  }
  // The finite check every request's betas pass (twice in the worker: per
  // request before batching, and in Pipeline::Run), on the test samples.
  std::printf("finite check of %ld samples x %ld voxels, us per sample:\n",
              static_cast<long>(test_betas.rows()), static_cast<long>(test_betas.cols()));
  for (int way = 0; way < 2; ++way) {
    core::Stopwatch w;
    int64_t calls = 0, finite = 0;
    while (absl::ToDoubleSeconds(w.Elapsed()) < absl::GetFlag(FLAGS_seconds)) {
      if (way == 0) {
        bool all = true;
        const float* v = test_betas.data();
        for (Eigen::Index i = 0; i < test_betas.size(); ++i) all &= std::isfinite(v[i]);
        finite += all;
      } else {
        finite += core::CheckFiniteRows(test_betas).ok();
      }
      ++calls;
    }
    if (finite != calls) return 1;
    std::printf(
        "%18s %8.2f\n", way == 0 ? "std::isfinite loop" : "CheckFiniteRows",
        1e6 * absl::ToDoubleSeconds(w.Elapsed()) / static_cast<double>(calls * test_betas.rows()));
  }
  return 0;
}
