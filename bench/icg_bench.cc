// Training and reconstruction cost of the Unit2Pixel generators (Du et al.
// AAAI 2020 ICG and its CVAE, CGAN and De-CNN baselines; core/generation/
// icg.h) on this machine.
//
// 1. Training: each kind trains for --epochs epochs on the same images
//    (digit69 X_prior, 2000 unpaired sixes and nines; condition fc6 of the
//    feature network) and the seconds per epoch are printed (median over
//    epochs), with each kind's ratio to De-CNN measured in the same run.
// 2. Reconstruction: each kind's digit69 pipeline (trained by
//    core::TrainModel as the service trains it: betas -> ridge -> fc6 ->
//    generator; HYPER: betas -> ridge -> GAN latent -> GAN; DAND: betas ->
//    MAP components -> paired GAN) runs one test sample at a time, --runs
//    times per kind; the decode and generate stage times it reports are
//    printed as median and p99, and for stochastic kinds also generate
//    with --draws draws (of z, or of DAND's posterior) and their SD map.
//    GAN and DAND train for the --epochs above on the same images
//    (DAND's inputs: the first 39 fc6 units, the width of its components).
//
// The feature network comes from --repo (see `v2p features train`); without
// it a quick one (MNIST, BRAINS, Olivetti; 1 epoch) is trained into a
// temporary directory first, since the cost does not depend on its accuracy.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "core/base/files.h"
#include "core/base/machine.h"
#include "core/data/dataset.h"
#include "core/data/mat_file.h"
#include "core/features/feature_network.h"
#include "core/generation/gan.h"
#include "core/generation/icg.h"
#include "core/methods/dand/dand_method.h"
#include "core/methods/features/features_method.h"
#include "core/methods/hyper/hyper_method.h"
#include "core/methods/registry.h"
#include "core/pipeline/model_repository.h"
#include "core/pipeline/pipeline.h"
#include "core/pipeline/trainer.h"
#include "experiments/feature_commands.h"

ABSL_FLAG(std::string, data_root, V2P_DATA_DIR, "Shared data directory.");
ABSL_FLAG(std::string, repo, "",
          "Repository holding the feature network (empty: train a quick one).");
ABSL_FLAG(std::string, network, "alexnet28", "Feature network name.");
ABSL_FLAG(std::string, kinds, "ICG,CVAE,CGAN,DeCNN,GAN,DAND",
          "Generator kinds to measure (GAN: HYPER's unconditional GAN; DAND: the paired GAN).");
ABSL_FLAG(int, epochs, 2, "Training epochs per kind (the median epoch is printed).");
ABSL_FLAG(int, runs, 200, "Single-sample reconstructions per kind.");
ABSL_FLAG(int, draws, 8, "Draws of z per sample in the sampling rows.");

namespace {

namespace core = v2p::core;

double Median(std::vector<double> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))];
}

struct Latency {
  std::vector<double> decode_ms, generate_ms, total_ms;
};

// --runs single-sample reconstructions, cycling over the test betas.
absl::StatusOr<Latency> Measure(const core::Pipeline& pipeline, const Eigen::MatrixXf& betas,
                                int runs, int draws) {
  core::RunOptions o;
  o.encode_png = true;
  o.samples = draws;
  Latency l;
  for (int r = 0; r < runs + 5; ++r) {
    auto recs = pipeline.Run(betas.row(r % betas.rows()), o);
    if (!recs.ok()) return recs.status();
    if (r < 5) continue;  // warm-up
    const core::StageTimings& t = (*recs)[0].timings;
    l.decode_ms.push_back(absl::ToDoubleMilliseconds(t.decode));
    l.generate_ms.push_back(absl::ToDoubleMilliseconds(t.generate));
    l.total_ms.push_back(absl::ToDoubleMilliseconds(t.total));
  }
  return l;
}

int Run() {
  const std::string data_root = absl::GetFlag(FLAGS_data_root);
  std::string repo = absl::GetFlag(FLAGS_repo);
  std::string scratch;
  if (repo.empty()) {
    scratch = (std::filesystem::temp_directory_path() / "v2p-icg-bench").string();
    std::filesystem::remove_all(scratch);
    v2p::client::FeaturesTrainOptions f;
    f.repo = repo = scratch;
    f.data_root = data_root;
    f.fashion_dir = "";
    f.epochs = 1;
    f.statistics_images = 500;
    std::printf("no --repo: training a quick feature network (1 epoch) into %s\n", scratch.c_str());
    auto trained = v2p::client::RunFeaturesTrain(f);
    if (!trained.ok()) {
      std::fprintf(stderr, "%s\n", std::string(trained.status().message()).c_str());
      return 1;
    }
  }
  auto nets = core::OpenFeatureNetworkRepository(repo, false);
  auto version = nets.ok() ? (*nets)->ResolveVersion(absl::GetFlag(FLAGS_network), 0)
                           : absl::StatusOr<int64_t>(nets.status());
  if (!version.ok()) {
    std::fprintf(stderr, "%s (train one with v2p features train --repo %s)\n",
                 std::string(version.status().message()).c_str(), repo.c_str());
    return 1;
  }
  auto net =
      core::FeatureNetwork::Load((*nets)->VersionDir(absl::GetFlag(FLAGS_network), *version));
  auto ds = core::LoadDataset(core::Digit69DatasetOptions(data_root));
  auto mat = core::MatFile::Open(data_root + "/digit69/69dataset2.mat");
  if (!net.ok() || !ds.ok() || !mat.ok()) {
    std::fprintf(stderr, "cannot load the network or digit69\n");
    return 1;
  }
  auto prior = (*mat)->ReadMatrix("X_prior");
  if (!prior.ok()) return 1;
  ds->unpaired = core::ToRowMajorImages(*prior / 255.0, ds->image, core::ImageLayout::kColumnMajor);
  const Eigen::MatrixXf images = ds->unpaired.cast<float>();
  auto conditions = (*net)->ExtractConcatenated(images, {"fc6"});
  if (!conditions.ok()) return 1;

  std::printf("icg_bench: %s, %u hardware threads\n", core::CpuModelName().c_str(),
              std::thread::hardware_concurrency());
  std::printf(
      "training on %lld unpaired images (digit69 X_prior), condition fc6 (%lld units), "
      "batch 64, %d epochs per kind\n",
      static_cast<long long>(images.rows()), static_cast<long long>(conditions->cols()),
      absl::GetFlag(FLAGS_epochs));
  const std::vector<std::string> kinds =
      absl::StrSplit(absl::GetFlag(FLAGS_kinds), ',', absl::SkipEmpty());
  std::vector<double> per_epoch(kinds.size(), -1);
  for (size_t k = 0; k < kinds.size(); ++k) {
    std::vector<double> seconds;
    absl::Time last = absl::Now();
    auto tick = [&] {
      const absl::Time now = absl::Now();
      seconds.push_back(absl::ToDoubleSeconds(now - last));
      last = now;
    };
    if (kinds[k] == "GAN" || kinds[k] == "DAND") {
      core::GanOptions o;
      o.epochs = absl::GetFlag(FLAGS_epochs);
      o.on_epoch = [&](const core::GanEpoch&) { tick(); };
      // DAND's inputs: 39 latent components, the count digit69_dand.pbtxt keeps.
      auto trainer = kinds[k] == "GAN" ? core::GanTrainer::Create(images, ds->image, o)
                                       : core::GanTrainer::CreatePaired(
                                             images, conditions->leftCols(39), ds->image, o);
      if (!trainer.ok() || !(*trainer)->Train().ok()) return 1;
    } else {
      auto o = core::IcgOptions::Preset(kinds[k]);
      if (!o.ok()) return 1;
      o->epochs = absl::GetFlag(FLAGS_epochs);
      o->on_epoch = [&](const core::IcgEpoch&) { tick(); };
      auto trainer = core::IcgTrainer::Create(images, *conditions, ds->image, *o);
      if (!trainer.ok() || !(*trainer)->Train().ok()) return 1;
    }
    per_epoch[k] = Median(seconds);
  }
  double decnn = -1;
  for (size_t k = 0; k < kinds.size(); ++k)
    if (kinds[k] == "DeCNN") decnn = per_epoch[k];
  std::printf("\n%-6s %6s %12s %12s %10s\n", "kind", "epochs", "s/epoch", "images/s", "vs DeCNN");
  for (size_t k = 0; k < kinds.size(); ++k) {
    std::printf("%-6s %6d %12.2f %12.0f %10s\n", kinds[k].c_str(), absl::GetFlag(FLAGS_epochs),
                per_epoch[k], images.rows() / per_epoch[k],
                decnn > 0 ? absl::StrFormat("%.2fx", per_epoch[k] / decnn).c_str() : "-");
  }

  // Reconstruction: each kind's pipeline, trained as the service would.
  const std::string models =
      (std::filesystem::temp_directory_path() / "v2p-icg-bench-models").string();
  std::filesystem::remove_all(models);
  std::filesystem::create_directories(models);
  std::filesystem::create_symlink(std::filesystem::absolute(repo) / "feature_networks",
                                  models + "/feature_networks");
  auto repository = core::ModelRepository::Open({models, true});
  if (!repository.ok()) return 1;
  const Eigen::MatrixXf test = ds->test.betas.cast<float>();
  const int runs = absl::GetFlag(FLAGS_runs), draws = absl::GetFlag(FLAGS_draws);
  std::printf(
      "\nreconstruction of one digit69 test sample through each kind's pipeline (PNG "
      "encoded), %d runs per row after 5 warm-up runs; stage times as the API reports "
      "them\n",
      runs);
  std::printf("%-6s %6s %14s %14s %14s %14s %12s\n", "kind", "draws", "decode p50 ms",
              "generate p50", "generate p99", "total p50 ms", "samples/s");
  for (const std::string& kind : kinds) {
    core::TrainRequest req;
    req.model_name = "bench_" + kind;
    core::FeaturesOptions features;
    features.network = absl::GetFlag(FLAGS_network);
    features.layers = {"fc6"};
    features.ridge.ridge = {{1e3, 0, 0}, true, false};
    features.decodability_folds = 0;
    if (kind == "DAND") {
      core::DandOptions dand;
      dand.network = features.network;
      dand.layers = features.layers;
      dand.explained_variance = 0.99;
      dand.generator.epochs = 1;
      req.method = std::make_shared<core::DandMethod>(dand);
    } else if (kind == "GAN") {
      // HYPER: a 1-epoch GAN stored in the scratch repository first.
      core::GanOptions go;
      go.epochs = 1;
      auto t = core::GanTrainer::Create(images, ds->image, go);
      if (!t.ok() || !(*t)->Train().ok()) return 1;
      auto gens = core::OpenGeneratorRepository(models, true);
      if (!gens.ok()) return 1;
      auto gan = (*t)->Finish();
      if (!(*gens)
               ->CommitVersion("bench_gan",
                               [&](const std::string& dir) -> absl::Status {
                                 if (absl::Status s = gan->Save(dir); !s.ok()) return s;
                                 return core::WriteFile(dir + "/" + core::kGeneratorConditionFile,
                                                        "GAN\n");
                               })
               .ok())
        return 1;
      core::HyperOptions hyper;
      hyper.ridge = features.ridge;
      hyper.generator_name = "bench_gan";
      req.method = std::make_shared<core::HyperMethod>(hyper);
    } else {
      features.train_generator = true;
      features.generator_training = *core::IcgOptions::Preset(kind);
      features.generator_training.epochs = 1;
      req.method = std::make_shared<core::FeaturesMethod>(features);
    }
    auto m = core::TrainModel(*ds, req, **repository);
    if (!m.ok()) {
      std::fprintf(stderr, "%s\n", std::string(m.status().message()).c_str());
      return 1;
    }
    auto pipeline = core::LoadPipeline((*repository)->VersionDir(m->name, m->version), m->version);
    if (!pipeline.ok()) return 1;
    for (int d : {0, draws}) {
      if (d > 0 && !(*pipeline)->can_sample()) continue;
      auto l = Measure(**pipeline, test, runs, d);
      if (!l.ok()) return 1;
      std::printf("%-6s %6d %14.3f %14.3f %14.3f %14.3f %12.0f\n", kind.c_str(), d,
                  Median(l->decode_ms), Median(l->generate_ms), Quantile(l->generate_ms, 0.99),
                  Median(l->total_ms), 1000.0 / Median(l->total_ms));
    }
  }
  std::filesystem::remove_all(models);
  if (!scratch.empty()) std::filesystem::remove_all(scratch);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return Run();
}
