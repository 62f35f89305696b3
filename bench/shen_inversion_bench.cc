// Shen et al. (2019) feature inversion (core/methods/shen/feature_inversion.h)
// against the reference algorithm in Python PyTorch
// (bench/shen_inversion_torch.py), side by side in one run, on one
// TorchScript network both sides load: our alexnet28 (trained here for one
// epoch on 2000 MNIST digits, or --network DIR), exported by the Python
// script. The problem: the true features (conv1..fc7) of the 10 digit69
// test stimuli, inverted from a uniform image at the training stimuli's
// mean pixel, for --iterations per image, with L-BFGS and with icnn's
// gradient descent.
//
// The reference runs as the authors' icnn code runs: one image at a time,
// in a fresh python3 per run (timing only its optimisation). Ours runs as
// the service does, the 10 images as one batch, and also one image at a
// time. Both sides get --threads intra-op threads. Prints per optimiser:
// runs, the median seconds per image of each, ours / Python, the seconds
// per iteration at batch 1 and their ratio, and each side's PCC against the
// stimuli (the two run the same algorithm; the batch follows its own path,
// since L-BFGS's line search then sees the sum of the images' losses).
#include <ATen/Parallel.h>
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/bench_common.h"
#include "core/base/machine.h"
#include "core/base/stopwatch.h"
#include "core/data/dataset.h"
#include "core/data/image_corpus.h"
#include "core/data/npy.h"
#include "core/evaluation/report.h"
#include "core/methods/shen/feature_inversion.h"

ABSL_FLAG(std::string, data_root, V2P_DATA_DIR, "The shared data folder.");
ABSL_FLAG(std::string, network, "", "A saved alexnet28 (default: one trained here, 1 epoch).");
ABSL_FLAG(int, iterations, 200, "Iterations per image.");
ABSL_FLAG(int, runs, 3, "Runs per side and optimiser (the median is printed).");
ABSL_FLAG(int, threads, 2, "Intra-op threads for both sides.");
ABSL_FLAG(std::string, optimizers, "lbfgs,gd", "Optimisers: lbfgs, gd.");
ABSL_FLAG(std::string, python, "/usr/bin/python3", "Python with torch (Debian python3-torch).");
ABSL_FLAG(std::string, script, V2P_SOURCE_DIR "/bench/shen_inversion_torch.py",
          "The reference side.");

namespace {

namespace bench = v2p::bench;
namespace core = v2p::core;

const std::vector<std::string> kLayers = {"conv1", "conv2", "conv3", "conv4",
                                          "conv5", "fc6",   "fc7"};

// A saved alexnet28: --network, or one trained here.
absl::StatusOr<std::string> NetworkDir(const std::string& scratch) {
  if (!absl::GetFlag(FLAGS_network).empty()) return absl::GetFlag(FLAGS_network);
  const std::string corpus = absl::GetFlag(FLAGS_data_root) + "/corpora/mnist/mnist-10k-";
  auto mnist = core::ReadIdx(corpus + "images-idx3-ubyte", corpus + "labels-idx1-ubyte", "mnist");
  if (!mnist.ok()) return mnist.status();
  core::FeatureNetworkTrainOptions o;
  o.epochs = 1;
  auto net = core::FeatureNetwork::Train(mnist->Slice(0, 2000), o);
  if (!net.ok()) return net.status();
  const std::string dir = scratch + "/network";
  std::filesystem::create_directories(dir);
  if (absl::Status s = (*net)->Save(dir); !s.ok()) return s;
  return dir;
}

// Runs the Python side once, from scratch/start.npy (the start image ours
// uses); its seconds for all images (< 0 on failure).
double RunPython(const std::string& scratch, const std::string& optimizer) {
  const std::string cmd =
      absl::StrCat(absl::GetFlag(FLAGS_python), " ", absl::GetFlag(FLAGS_script), " run ", scratch,
                   "/network.ts ", scratch, "/stimuli.npy ", optimizer, " ",
                   absl::GetFlag(FLAGS_iterations), " ", scratch, "/start.npy ",
                   absl::GetFlag(FLAGS_threads), " ", scratch, "/python_images.npy");
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  double seconds = -1;
  char line[512];
  while (std::fgets(line, sizeof(line), p) != nullptr)
    std::sscanf(line, "{\"seconds\": %lf", &seconds);
  if (pclose(p) != 0) return -1;
  return seconds;
}

struct Side {
  std::vector<double> seconds;  // per run, all images
  double pcc = 0;
};

double Pcc(const Eigen::MatrixXd& images, const core::Dataset& ds) {
  auto s = core::ScoreReconstructions(images, ds.test.stimuli, ds.image);
  return s.ok() ? s->pcc : -1;
}

// Ours on `targets` as one batch (rows = all) or one image at a time.
absl::StatusOr<Eigen::MatrixXf> RunOurs(const core::FeatureNetwork& net,
                                        const core::LayerFeatures& targets,
                                        const core::InversionOptions& o, bool batched) {
  const Eigen::Index n = targets.begin()->second.rows();
  if (batched) {
    auto r = core::InvertFeatures(net, targets, {28, 28, 1}, o);
    if (!r.ok()) return r.status();
    return r->images;
  }
  Eigen::MatrixXf images(n, 784);
  for (Eigen::Index i = 0; i < n; ++i) {
    core::LayerFeatures one;
    for (const auto& [l, y] : targets) one[l] = y.row(i);
    auto r = core::InvertFeatures(net, one, {28, 28, 1}, o);
    if (!r.ok()) return r.status();
    images.row(i) = r->images.row(0);
  }
  return images;
}

int RunOptimizer(const std::string& name, const core::FeatureNetwork& net, const core::Dataset& ds,
                 const std::string& scratch) {
  core::InversionOptions o;
  o.optimizer =
      name == "gd" ? core::InversionOptimizer::kGradientDescent : core::InversionOptimizer::kLbfgs;
  o.iterations = absl::GetFlag(FLAGS_iterations);
  o.start_value = static_cast<float>(ds.train.stimuli.mean());
  auto targets = net.Extract(ds.test.stimuli.cast<float>(), kLayers);
  if (!targets.ok()) return std::fprintf(stderr, "%s\n", targets.status().ToString().c_str()), 1;
  Side python, batch, single;
  for (int r = 0; r < absl::GetFlag(FLAGS_runs); ++r) {
    python.seconds.push_back(RunPython(scratch, name));
    for (auto [side, batched] : {std::pair<Side*, bool>{&batch, true}, {&single, false}}) {
      core::Stopwatch w;
      auto images = RunOurs(net, *targets, o, batched);
      side->seconds.push_back(absl::ToDoubleSeconds(w.Elapsed()));
      if (!images.ok() || python.seconds.back() < 0) {
        std::fprintf(stderr, "shen_inversion_bench: %s run failed: %s\n", name.c_str(),
                     images.ok() ? "the Python side" : images.status().ToString().c_str());
        return 1;
      }
      side->pcc = Pcc(images->cast<double>(), ds);
    }
  }
  auto py_images = core::ReadNpy(scratch + "/python_images.npy");
  python.pcc = py_images.ok() ? Pcc(*py_images->AsMatrix(), ds) : -1;
  const double n = static_cast<double>(ds.test.stimuli.rows()), it = o.iterations;
  const double py = bench::Median(python.seconds) / n, ours = bench::Median(batch.seconds) / n,
               one = bench::Median(single.seconds) / n;
  std::printf("%-6s %4zu %14.4f %14.4f %10.3f %14.3f %14.3f %10.3f   %.4f %.4f %.4f\n",
              name.c_str(), python.seconds.size(), py, ours, ours / py, one / it * 1e3,
              py / it * 1e3, one / py, python.pcc, batch.pcc, single.pcc);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int threads = absl::GetFlag(FLAGS_threads);
  at::set_num_threads(threads);
  char scratch_template[] = "/tmp/v2p-shen-bench-XXXXXX";
  if (mkdtemp(scratch_template) == nullptr) return std::fprintf(stderr, "mkdtemp failed\n"), 1;
  const std::string scratch = scratch_template;
  auto ds = core::LoadDataset(core::Digit69DatasetOptions(absl::GetFlag(FLAGS_data_root)));
  auto dir = ds.ok() ? NetworkDir(scratch) : ds.status();
  if (!dir.ok()) return std::fprintf(stderr, "%s\n", dir.status().ToString().c_str()), 1;
  const std::string ts = scratch + "/network.ts";
  const std::string export_cmd =
      absl::StrCat(absl::GetFlag(FLAGS_python), " ", absl::GetFlag(FLAGS_script), " export ", *dir,
                   "/weights.pt ", ts);
  if (std::system(export_cmd.c_str()) != 0 ||
      !core::WriteNpyFloat64(scratch + "/stimuli.npy", ds->test.stimuli).ok() ||
      !core::WriteNpyFloat64(scratch + "/start.npy",
                             core::InversionStartImage(784, ds->train.stimuli.mean(),
                                                       core::InversionOptions().start_dither)
                                 .cast<double>())
           .ok())
    return std::fprintf(stderr, "shen_inversion_bench: cannot export the network\n"), 1;
  auto ours_net = core::FeatureNetwork::Load(*dir);
  auto net = core::FeatureNetwork::LoadTorchScript(ts, ds->image, kLayers);
  if (!net.ok() || !ours_net.ok())
    return std::fprintf(stderr, "%s\n", net.status().ToString().c_str()), 1;
  // The exported network is ours: the same features to float precision.
  const Eigen::MatrixXf a = *(*net)->ExtractConcatenated(ds->test.stimuli.cast<float>(), kLayers);
  const Eigen::MatrixXf b =
      *(*ours_net)->ExtractConcatenated(ds->test.stimuli.cast<float>(), kLayers);
  std::printf(
      "shen_inversion_bench: 10 digit69 test stimuli, true features of %zu layers "
      "(conv1..fc7), %d iterations per image, start %.3f +- %.4f (dither, both sides)\n",
      kLayers.size(), absl::GetFlag(FLAGS_iterations), ds->train.stimuli.mean(),
      core::InversionOptions().start_dither);
  std::printf(
      "network: TorchScript export of alexnet28 (%s); its features vs ours: max |diff| "
      "%.2g\n",
      dir->c_str(), (a - b).cwiseAbs().maxCoeff());
  std::printf("machine: %s, %u hardware threads; %d intra-op threads for both sides\n",
              core::CpuModelName().c_str(), std::thread::hardware_concurrency(), threads);
  std::printf("%-6s %4s %14s %14s %10s %14s %14s %10s   %s\n", "optim", "runs", "python s/img",
              "ours s/img", "ours/py", "ours ms/it b1", "py ms/it b1", "b1/py",
              "PCC python, ours batch, ours b1");
  int failures = 0;
  for (const std::string& name :
       std::vector<std::string>(absl::StrSplit(absl::GetFlag(FLAGS_optimizers), ',')))
    failures += RunOptimizer(name, **net, *ds, scratch);
  std::filesystem::remove_all(scratch);
  return failures == 0 ? 0 : 1;
}
