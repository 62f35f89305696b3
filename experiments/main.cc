// v2p-lab: the lab's commands that run LibTorch in this process: local
// training, feature networks, generators, and the papers' tables. `v2p`
// hands these commands to it (client/main.cc), so labs type `v2p` for both.
//   v2p-lab train --dataset DESC [--spec SPEC] --repo DIR --model NAME [--cv K]
//   v2p-lab features|generators|gan ...
// Flags may be written with '-' or '_'.
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/command_line.h"
#include "experiments/fattention_commands.h"
#include "experiments/feature_commands.h"
#include "experiments/gan_commands.h"
#include "experiments/generator_commands.h"
#include "experiments/local_train.h"
#include "experiments/shen_commands.h"
#include "proto/serving.h"

ABSL_FLAG(std::string, model, "", "Model name.");
ABSL_FLAG(std::string, dataset, "", "train: dataset description (.pbtxt).");
ABSL_FLAG(std::string, spec, "",
          "train: pipeline spec (.pbtxt); empty: ridge to pixels, alpha by 5-fold CV.");
ABSL_FLAG(int, cv, 0,
          "train (local): K > 0 reports K-fold cross-validated scores over every paired trial "
          "(train and test pooled) and commits nothing.");
ABSL_FLAG(std::string, repo, "", "train: model repository directory (created when missing).");
ABSL_FLAG(std::string, data_root, "",
          "A dataset description's relative `file` is resolved against this when given, else "
          "against the description's own directory; features train, generators and gan "
          "evaluate read the shared data (corpora, digit69) from it (default ../shared/data).");
ABSL_FLAG(std::string, out, "", "reconstruct: output directory.");
ABSL_FLAG(std::string, name, "", "datasets: dataset name.");
ABSL_FLAG(uint64_t, seed, 0, "train --server: seed of the job's random choices.");
ABSL_FLAG(int, epochs, 0,
          "features train / generators train|evaluate: passes over the training images "
          "(0: 6 for features, 20 for generators).");
ABSL_FLAG(std::string, top_k, "",
          "generators evaluate: also ICG on the top-k decodable units, for each k of a list "
          "such as 64,128.");
ABSL_FLAG(int, max_fashion_train, 20000,
          "features train: Fashion-MNIST training images used; 0 = all 60,000.");
ABSL_FLAG(std::string, fashion_dir, "/usr/share/datasets/fashion-mnist",
          "features train: Debian dataset-fashion-mnist folder.");
ABSL_FLAG(std::string, network, "alexnet28", "features compare: stored feature network.");
ABSL_FLAG(std::string, layers, "fc6", "features compare: comma-separated layers to decode.");
ABSL_FLAG(std::string, sections, "",
          "fattention evaluate: which of split,cv,regions to run (default: all three).");
ABSL_FLAG(int, folds, 5,
          "features compare: outer cross-validation folds; fattention evaluate: folds over "
          "69dataset2.mat's 100 trials (0: the 90/10 split only).");
ABSL_FLAG(int, voxels, 200, "features compare: voxels selected for SMR.");
ABSL_FLAG(int, iterations, 10, "features compare: SMR alternating iterations.");
ABSL_FLAG(int, inversion_iterations, 200, "shen evaluate: optimiser iterations per image.");
ABSL_FLAG(std::string, variants, "",
          "features compare: comma-separated SMR variants; empty = all, sparse and not.");
ABSL_FLAG(std::string, kind, "ICG",
          "generators train: ICG, CVAE, CGAN, DeCNN, or GAN (HYPER's unconditional generator).");
ABSL_FLAG(int, latent, 16, "generators train: latent size.");
ABSL_FLAG(double, margin, 30,
          "generators train: IntroVAE hinge margin (nats); 0 = the paper's unbounded -alpha KL.");
ABSL_FLAG(std::string, gan, "digit69_GAN",
          "gan evaluate: the stored digit69 GAN (v2p generators train --kind GAN).");
ABSL_FLAG(int, permutations, 200, "gan evaluate: random-latent sets in HYPER's permutation tests.");
ABSL_FLAG(int, face_epochs, 60, "gan evaluate: epochs of the face GANs (64x64).");
ABSL_FLAG(bool, faces, true, "gan evaluate: also the simulated face experiments (Olivetti).");

namespace {

using v2p::client::Invocation;

// --data_root for resolving a dataset description's file: empty when not
// given (the description's directory is used).
std::string DescriptionRootFlag() { return absl::GetFlag(FLAGS_data_root); }

// --data_root for the shared data (corpora, digit69): ../shared/data when
// not given.
std::string SharedDataRoot() {
  const std::string root = absl::GetFlag(FLAGS_data_root);
  return root.empty() ? "../shared/data" : root;
}

constexpr char kUsage[] =
    "v2p-lab <command> [flags]   (also reached as `v2p <command>`)\n"
    "  train        --dataset DESC [--spec SPEC] --repo DIR --model NAME "
    "[--data_root DIR] [--cv K]\n"
    "  features train --repo DIR [--name NAME] [--epochs N] [--data_root DIR]\n"
    "               [--max_fashion_train N] [--seed N]\n"
    "  features list|show --repo DIR [--name NAME]\n"
    "  features compare --repo DIR --dataset FILE [--network NAME] [--layers fc6]\n"
    "      [--folds 5] [--voxels 200] [--iterations 10] [--variants SMR,...] [--out FILE.md]\n"
    "  generators train --repo DIR [--kind ICG|CVAE|CGAN|DeCNN|GAN] [--network alexnet28]\n"
    "      [--layers fc6] [--epochs 20] [--latent 16] [--margin 30] [--out sheet.png]\n"
    "      [--dataset DESC: train on its images, not digit69's X_prior + MNIST]\n"
    "  generators evaluate --repo DIR --out DIR [--layers fc6] [--epochs 20] [--top_k 64,128]\n"
    "  gan evaluate --repo DIR --out DIR [--gan digit69_GAN] [--epochs 20] [--permutations 200]\n"
    "      [--face_epochs 60] [--faces=false]\n"
    "  fattention evaluate --repo DIR --out DIR [--network alexnet28] [--folds 5]\n"
    "      [--sections split,cv,regions]\n"
    "  shen evaluate --repo DIR --out DIR [--network alexnet28] [--inversion_iterations 200]";

int Report(const absl::Status& s) { return v2p::client::ReportStatus("v2p", s); }
int Usage(const std::string& why) { return v2p::client::ReportUsage("v2p", why, kUsage); }

// features train|list|show|compare.
int Features(const Invocation& c) {
  const std::string& sub = c.sub;
  const std::string repo = absl::GetFlag(FLAGS_repo);
  if (repo.empty()) return Usage("features needs --repo");
  if (sub == "train") {
    v2p::client::FeaturesTrainOptions o;
    o.repo = repo;
    if (!absl::GetFlag(FLAGS_name).empty()) o.name = absl::GetFlag(FLAGS_name);
    o.data_root = SharedDataRoot();
    o.fashion_dir = absl::GetFlag(FLAGS_fashion_dir);
    if (absl::GetFlag(FLAGS_epochs) > 0) o.epochs = absl::GetFlag(FLAGS_epochs);
    o.max_fashion_train = absl::GetFlag(FLAGS_max_fashion_train);
    o.seed = absl::GetFlag(FLAGS_seed) == 0 ? 1 : absl::GetFlag(FLAGS_seed);
    return Report(v2p::client::RunFeaturesTrain(o).status());
  }
  if (sub == "list") return Report(v2p::client::RunFeaturesShow(repo, ""));
  if (sub == "show") {
    if (absl::GetFlag(FLAGS_name).empty()) return Usage("features show needs --name");
    return Report(v2p::client::RunFeaturesShow(repo, absl::GetFlag(FLAGS_name)));
  }
  if (sub == "compare") {
    v2p::client::FeaturesCompareOptions o;
    o.repo = repo;
    o.network = absl::GetFlag(FLAGS_network);
    o.layers = absl::GetFlag(FLAGS_layers);
    o.dataset = absl::GetFlag(FLAGS_dataset);
    o.data_root = DescriptionRootFlag();
    o.out = absl::GetFlag(FLAGS_out);
    o.folds = absl::GetFlag(FLAGS_folds);
    o.n_voxels = absl::GetFlag(FLAGS_voxels);
    o.iterations = absl::GetFlag(FLAGS_iterations);
    o.variants = absl::GetFlag(FLAGS_variants);
    o.seed = absl::GetFlag(FLAGS_seed);
    o.command = c.command_line;
    if (o.dataset.empty()) return Usage("features compare needs --dataset");
    return Report(v2p::client::RunFeaturesCompare(o));
  }
  return Usage("features takes train, list, show or compare");
}

// gan evaluate: the GAN papers' tables.
int Gan(const Invocation& c) {
  const std::string& sub = c.sub;
  if (sub != "evaluate") return Usage("gan takes evaluate");
  v2p::client::GanEvaluateOptions o;
  o.repo = absl::GetFlag(FLAGS_repo);
  o.network = absl::GetFlag(FLAGS_network);
  o.gan = absl::GetFlag(FLAGS_gan);
  o.data_root = SharedDataRoot();
  o.out_dir = absl::GetFlag(FLAGS_out);
  if (absl::GetFlag(FLAGS_epochs) > 0) o.epochs = absl::GetFlag(FLAGS_epochs);
  o.permutations = absl::GetFlag(FLAGS_permutations);
  o.face_epochs = absl::GetFlag(FLAGS_face_epochs);
  o.faces = absl::GetFlag(FLAGS_faces);
  if (absl::GetFlag(FLAGS_seed) > 0) o.seed = absl::GetFlag(FLAGS_seed);
  o.command = c.command_line;
  if (o.repo.empty() || o.out_dir.empty()) return Usage("gan evaluate needs --repo and --out");
  return Report(v2p::client::RunGanEvaluate(o));
}

// fattention evaluate: the foreground-attention tables.
int FAttention(const Invocation& c) {
  if (c.sub != "evaluate") return Usage("fattention takes evaluate");
  v2p::client::FAttentionEvaluateOptions o;
  o.repo = absl::GetFlag(FLAGS_repo);
  o.network = absl::GetFlag(FLAGS_network);
  o.data_root = SharedDataRoot();
  o.out_dir = absl::GetFlag(FLAGS_out);
  o.folds = absl::GetFlag(FLAGS_folds);
  if (!absl::GetFlag(FLAGS_sections).empty()) o.sections = absl::GetFlag(FLAGS_sections);
  if (absl::GetFlag(FLAGS_seed) > 0) o.seed = absl::GetFlag(FLAGS_seed);
  o.command = c.command_line;
  if (o.repo.empty() || o.out_dir.empty())
    return Usage("fattention evaluate needs --repo and --out");
  return Report(v2p::client::RunFAttentionEvaluate(o));
}

// shen evaluate: deep image reconstruction's table.
int Shen(const Invocation& c) {
  if (c.sub != "evaluate") return Usage("shen takes evaluate");
  v2p::client::ShenEvaluateOptions o;
  o.repo = absl::GetFlag(FLAGS_repo);
  o.network = absl::GetFlag(FLAGS_network);
  o.data_root = SharedDataRoot();
  o.out_dir = absl::GetFlag(FLAGS_out);
  o.iterations = absl::GetFlag(FLAGS_inversion_iterations);
  o.command = c.command_line;
  if (o.repo.empty() || o.out_dir.empty()) return Usage("shen evaluate needs --repo and --out");
  if (o.iterations < 1) return Usage("--inversion_iterations must be >= 1");
  return Report(v2p::client::RunShenEvaluate(o));
}

// generators evaluate: the generator table.
int GeneratorsEvaluate(const Invocation& c) {
  v2p::client::GeneratorsEvaluateOptions o;
  o.repo = absl::GetFlag(FLAGS_repo);
  o.network = absl::GetFlag(FLAGS_network);
  o.layers = absl::GetFlag(FLAGS_layers);
  o.data_root = SharedDataRoot();
  o.out_dir = absl::GetFlag(FLAGS_out);
  if (absl::GetFlag(FLAGS_epochs) > 0) o.epochs = absl::GetFlag(FLAGS_epochs);
  for (absl::string_view k : absl::StrSplit(absl::GetFlag(FLAGS_top_k), ',', absl::SkipEmpty())) {
    int v = 0;
    if (!absl::SimpleAtoi(k, &v) || v <= 0)
      return Usage("--top_k takes positive counts, e.g. 64,128");
    o.top_k.push_back(v);
  }
  o.command = c.command_line;
  if (o.repo.empty() || o.out_dir.empty())
    return Usage("generators evaluate needs --repo and --out");
  return Report(v2p::client::RunGeneratorsEvaluate(o));
}

// generators train (evaluate goes to GeneratorsEvaluate).
int Generators(const Invocation& c) {
  const std::string& sub = c.sub;
  if (sub != "train") return Usage("generators takes train or evaluate");
  v2p::client::GeneratorsTrainOptions o;
  o.repo = absl::GetFlag(FLAGS_repo);
  if (o.repo.empty()) return Usage("generators train needs --repo");
  o.name = absl::GetFlag(FLAGS_name);
  o.kind = absl::GetFlag(FLAGS_kind);
  o.network = absl::GetFlag(FLAGS_network);
  o.layers = absl::GetFlag(FLAGS_layers);
  o.data_root = SharedDataRoot();
  o.dataset = absl::GetFlag(FLAGS_dataset);
  o.dataset_root = DescriptionRootFlag();
  o.out = absl::GetFlag(FLAGS_out);
  if (absl::GetFlag(FLAGS_epochs) > 0) o.epochs = absl::GetFlag(FLAGS_epochs);
  o.latent_size = absl::GetFlag(FLAGS_latent);
  o.margin = absl::GetFlag(FLAGS_margin);
  o.seed = absl::GetFlag(FLAGS_seed) == 0 ? 1 : absl::GetFlag(FLAGS_seed);
  return Report(v2p::client::RunGeneratorsTrain(o).status());
}

// train --repo: in this process, committed to the local repository.
int LocalTrain(const Invocation&) {
  v2p::client::TrainOptions o{absl::GetFlag(FLAGS_dataset), absl::GetFlag(FLAGS_spec),
                              absl::GetFlag(FLAGS_repo), absl::GetFlag(FLAGS_model),
                              DescriptionRootFlag()};
  o.cv = absl::GetFlag(FLAGS_cv);
  if (o.dataset.empty() || o.repo.empty() || (o.model.empty() && o.cv == 0)) {
    return Usage("train needs --dataset, --repo and --model (or --cv K)");
  }
  return Report(v2p::client::RunTrain(o));
}

int GeneratorsCommand(const Invocation& c) {
  return c.sub == "evaluate" ? GeneratorsEvaluate(c) : Generators(c);
}

}  // namespace

int main(int argc, char** argv) {
  v2p::ListFlagsOfFileInHelp(__FILE__);
  absl::SetProgramUsageMessage(kUsage);
  v2p::DisableMutexDeadlockDetection();
  static const v2p::client::CommandTable kCommands = {
      {"fattention", FAttention},        {"features", Features}, {"gan", Gan},
      {"generators", GeneratorsCommand}, {"shen", Shen},         {"train", LocalTrain},
  };
  return v2p::client::RunCommandTable(argc, argv, kCommands, Usage);
}
