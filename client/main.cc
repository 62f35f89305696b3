// v2p: the voxel2pixel command line.
//   v2p train --dataset DESC --spec SPEC --repo DIR --model NAME
//   v2p models list|show --server ADDR [--model NAME]
//   v2p reconstruct --server ADDR --model NAME --betas FILE.mat --var VAR
//                   [--stimuli-var VAR] --out DIR
// Flags may be written with '-' or '_' (--stimuli-var = --stimuli_var).
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
#include "client/commands.h"
#include "client/feature_commands.h"
#include "client/gan_commands.h"
#include "client/generator_commands.h"
#include "client/load_command.h"
#include "client/remote_commands.h"
#include "proto/serving.h"

ABSL_FLAG(std::string, server, "127.0.0.1:8500",
          "v2p-server address (host:port).");
ABSL_FLAG(std::string, model, "", "Model name.");
ABSL_FLAG(int64_t, version, 0, "Model version; 0 = latest.");
ABSL_FLAG(std::string, dataset, "", "train: dataset description (.pbtxt).");
ABSL_FLAG(std::string, spec, "",
          "train: pipeline spec (.pbtxt); empty: ridge to pixels, alpha by 5-fold CV.");
ABSL_FLAG(int, cv, 0,
          "train (local): K > 0 reports K-fold cross-validated scores over every paired trial "
          "(train and test pooled) and commits nothing.");
ABSL_FLAG(std::string, repo, "",
          "train: model repository directory (created when missing).");
ABSL_FLAG(std::string, data_root, "",
          "A dataset description's relative `file` is resolved against this when given, else "
          "against the description's own directory; features train, generators and gan "
          "evaluate read the shared data (corpora, digit69) from it (default ../shared/data).");
ABSL_FLAG(std::string, betas, "",
          "reconstruct: MATLAB file holding the betas.");
ABSL_FLAG(std::string, var, "",
          "reconstruct: variable of samples x voxels betas.");
ABSL_FLAG(std::string, stimuli_var, "",
          "reconstruct: variable of the seen images, for metrics.");
ABSL_FLAG(std::string, stimuli_layout, "column_major",
          "reconstruct: column_major (MATLAB) or row_major.");
ABSL_FLAG(double, pixel_max, 0,
          "reconstruct: stored value of a white pixel in --stimuli_var; 0: the model's "
          "(its training stimuli's), checked against the values.");
ABSL_FLAG(std::string, out, "", "reconstruct: output directory.");
ABSL_FLAG(int, batch_size, 1, "reconstruct, bench: samples per Reconstruct request.");
ABSL_FLAG(int, samples, 0,
          "reconstruct: also draw this many images per sample (ICG, CVAE, CGAN models) and "
          "write them with a per-pixel SD map.");
ABSL_FLAG(bool, stream, false, "reconstruct: use StreamReconstruct.");
ABSL_FLAG(int, deadline_s, 60, "reconstruct: deadline per request, seconds.");
ABSL_FLAG(std::string, name, "", "datasets: dataset name.");
ABSL_FLAG(std::string, description, "", "datasets upload: dataset description (.pbtxt).");
ABSL_FLAG(uint64_t, seed, 0, "train --server: seed of the job's random choices.");
ABSL_FLAG(double, validation_split, 0, "train --server: fraction of trials held out; 0 = test split.");
ABSL_FLAG(bool, wait, false, "train --server: wait for the job, showing progress.");
ABSL_FLAG(std::string, job, "", "jobs: operations/<id> (or just <id>).");
ABSL_FLAG(std::string, filter, "", "jobs list: e.g. done=false, model=NAME, phase=FITTING.");
ABSL_FLAG(int, clients, 16, "bench: concurrent clients.");
ABSL_FLAG(double, duration, 10, "bench: seconds of load.");
ABSL_FLAG(int, window, 8,
          "bench --stream: samples in flight per stream; 1 sends the next sample when the "
          "previous result arrives, as a scanner feed does.");
ABSL_FLAG(int, epochs, 0,
          "features train / generators train|evaluate: passes over the training images "
          "(0: 6 for features, 20 for generators).");
ABSL_FLAG(std::string, top_k, "",
          "generators evaluate: also ICG on the top-k decodable units, for each k of a list "
          "such as 64,128.");
ABSL_FLAG(int, max_fashion_train, 20000, "features train: Fashion-MNIST training images used; 0 = all 60,000.");
ABSL_FLAG(std::string, fashion_dir, "/usr/share/datasets/fashion-mnist", "features train: Debian dataset-fashion-mnist folder.");
ABSL_FLAG(std::string, network, "alexnet28", "features compare: stored feature network.");
ABSL_FLAG(std::string, layers, "fc6", "features compare: comma-separated layers to decode.");
ABSL_FLAG(int, folds, 5, "features compare: outer cross-validation folds.");
ABSL_FLAG(int, voxels, 200, "features compare: voxels selected for SMR.");
ABSL_FLAG(int, iterations, 10, "features compare: SMR alternating iterations.");
ABSL_FLAG(std::string, variants, "", "features compare: comma-separated SMR variants; empty = all, sparse and not.");
ABSL_FLAG(std::string, kind, "ICG", "generators train: ICG, CVAE, CGAN, DeCNN, or GAN (HYPER's unconditional generator).");
ABSL_FLAG(int, latent, 16, "generators train: latent size.");
ABSL_FLAG(double, margin, 30, "generators train: IntroVAE hinge margin (nats); 0 = the paper's unbounded -alpha KL.");
ABSL_FLAG(std::string, gan, "digit69_GAN", "gan evaluate: the stored digit69 GAN (v2p generators train --kind GAN).");
ABSL_FLAG(int, permutations, 200, "gan evaluate: random-latent sets in HYPER's permutation tests.");
ABSL_FLAG(int, face_epochs, 60, "gan evaluate: epochs of the face GANs (64x64).");
ABSL_FLAG(bool, faces, true, "gan evaluate: also the simulated face experiments (Olivetti).");
ABSL_FLAG(int, timeout_s, 0, "jobs wait: give up after this long; 0 = until done.");

namespace {

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
    "v2p <command> [flags]\n"
    "  train        --dataset DESC [--spec SPEC] --repo DIR --model NAME "
    "[--data_root DIR] [--cv K]\n"
    "  train        --server ADDR --dataset NAME [--spec SPEC] --model NAME [--wait]\n"
    "               [--seed N] [--validation_split F]\n"
    "  datasets upload --server ADDR --name NAME --description DESC [--data_root DIR]\n"
    "  datasets list|show|delete --server ADDR [--name NAME]\n"
    "  jobs list [--filter F] | show|wait|cancel|delete --job ID   (--server ADDR)\n"
    "  bench        --server ADDR --model NAME [--clients N] [--duration S] [--batch_size N | --stream [--window N]]\n"
    "               [--betas FILE.mat --var VAR]\n"
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
    "  models list  --server ADDR\n"
        "  models show  --server ADDR --model NAME [--version N]\n"
    "  models load|unload --server ADDR --model NAME [--version N]\n"
    "  reconstruct  --server ADDR --model NAME --betas FILE.mat --var VAR\n"
    "               [--stimuli-var VAR] --out DIR [--batch_size N | --stream] [--samples N]";

// absl flags are identifiers; accept the dashed spelling labs type.
std::vector<char*> NormaliseFlagNames(int argc, char** argv,
                                      std::vector<std::string>* storage) {
  storage->assign(argv, argv + argc);
  for (std::string& a : *storage) {
    if (a.rfind("--", 0) != 0) continue;
    const size_t end =
        a.find('=') == std::string::npos ? a.size() : a.find('=');
    for (size_t i = 2; i < end; ++i) {
      if (a[i] == '-') a[i] = '_';
    }
  }
  std::vector<char*> out;
  for (std::string& a : *storage) out.push_back(a.data());
  return out;
}

int Report(const absl::Status& s) {
  if (s.ok()) return 0;
  std::fprintf(stderr, "v2p: %s\n", s.ToString().c_str());
  return 1;
}

int Usage(const std::string& why) {
  std::fprintf(stderr, "v2p: %s\n\n%s\n", why.c_str(), kUsage);
  return 2;
}

// A parsed command line: the subcommand (e.g. "train" of "features
// train") and the whole line, recorded by the experiments.
struct Invocation {
  std::string sub;
  std::string command_line;
};

// train without --repo: a job on the service.
int RemoteTrain(const Invocation&) {
  v2p::client::RemoteTrainOptions o;
  o.server = absl::GetFlag(FLAGS_server);
  o.dataset = absl::GetFlag(FLAGS_dataset);
  o.spec = absl::GetFlag(FLAGS_spec);
  o.model = absl::GetFlag(FLAGS_model);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.validation_split = absl::GetFlag(FLAGS_validation_split);
  o.wait = absl::GetFlag(FLAGS_wait);
  if (absl::GetFlag(FLAGS_cv) != 0)
    return Usage("train --cv K trains locally: give --repo DIR (its feature networks and "
                 "generators are used; nothing is committed)");
  if (o.dataset.empty() || o.model.empty()) {
    return Usage("train needs --dataset, --model and --server (remote) or --repo (local)");
  }
  return Report(v2p::client::RunRemoteTrain(o));
}

// bench: closed-loop load against a served model.
int Bench(const Invocation&) {
  v2p::client::LoadOptions o;
  o.server = absl::GetFlag(FLAGS_server);
  o.model = absl::GetFlag(FLAGS_model);
  o.clients = absl::GetFlag(FLAGS_clients);
  o.duration_s = absl::GetFlag(FLAGS_duration);
  o.stream = absl::GetFlag(FLAGS_stream);
  o.betas = absl::GetFlag(FLAGS_betas);
  o.var = absl::GetFlag(FLAGS_var);
  o.samples_per_request = absl::GetFlag(FLAGS_batch_size);
  o.window = absl::GetFlag(FLAGS_window);
  if (o.model.empty() || o.clients < 1 || o.duration_s <= 0 || o.samples_per_request < 1 ||
      o.window < 1) {
    return Usage(
        "bench needs --model, --clients >= 1, --duration > 0, --batch_size >= 1 and --window >= 1");
  }
  auto report = v2p::client::RunLoad(o);
  if (!report.ok()) return Report(report.status());
  std::printf("%s", v2p::client::FormatLoadReport(o, *report).c_str());
  return report->sent == report->received && report->errors.empty() ? 0 : 1;
}

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
    if (!absl::SimpleAtoi(k, &v) || v <= 0) return Usage("--top_k takes positive counts, e.g. 64,128");
    o.top_k.push_back(v);
  }
  o.command = c.command_line;
  if (o.repo.empty() || o.out_dir.empty()) return Usage("generators evaluate needs --repo and --out");
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

// datasets upload|list|show|delete.
int Datasets(const Invocation& c) {
  const std::string& sub = c.sub;
  v2p::client::DatasetsOptions o{absl::GetFlag(FLAGS_server), absl::GetFlag(FLAGS_name),
                                 absl::GetFlag(FLAGS_description), DescriptionRootFlag()};
  if (sub == "upload") {
    if (o.description.empty()) return Usage("datasets upload needs --description");
    return Report(v2p::client::RunDatasetsUpload(o));
  }
  if (sub == "list") return Report(v2p::client::RunDatasetsList(o));
  if (o.name.empty()) return Usage("datasets " + sub + " needs --name");
  if (sub == "show") return Report(v2p::client::RunDatasetsShow(o));
  if (sub == "delete") return Report(v2p::client::RunDatasetsDelete(o));
  return Usage("datasets takes upload, list, show or delete");
}

// jobs list|show|wait|cancel|delete.
int Jobs(const Invocation& c) {
  const std::string& sub = c.sub;
  v2p::client::JobsOptions o{absl::GetFlag(FLAGS_server), absl::GetFlag(FLAGS_job),
                             absl::GetFlag(FLAGS_filter), absl::GetFlag(FLAGS_timeout_s)};
  if (sub == "list") return Report(v2p::client::RunJobsList(o));
  if (o.name.empty()) return Usage("jobs " + sub + " needs --job");
  if (sub == "show") return Report(v2p::client::RunJobsShow(o));
  if (sub == "wait") return Report(v2p::client::RunJobsWait(o));
  if (sub == "cancel") return Report(v2p::client::RunJobsCancel(o));
  if (sub == "delete") return Report(v2p::client::RunJobsDelete(o));
  return Usage("jobs takes list, show, wait, cancel or delete");
}

// train --repo: in this process, committed to the local repository.
int LocalTrain(const Invocation&) {
  v2p::client::TrainOptions o{
      absl::GetFlag(FLAGS_dataset), absl::GetFlag(FLAGS_spec),
      absl::GetFlag(FLAGS_repo), absl::GetFlag(FLAGS_model),
      DescriptionRootFlag()};
  o.cv = absl::GetFlag(FLAGS_cv);
  if (o.dataset.empty() || o.repo.empty() || (o.model.empty() && o.cv == 0)) {
    return Usage("train needs --dataset, --repo and --model (or --cv K)");
  }
  return Report(v2p::client::RunTrain(o));
}

// models list|show|load|unload.
int Models(const Invocation& c) {
  const std::string& sub = c.sub;
  v2p::client::ModelsOptions o{absl::GetFlag(FLAGS_server),
                               absl::GetFlag(FLAGS_model),
                               absl::GetFlag(FLAGS_version)};
      if (sub == "list") return Report(v2p::client::RunModelsList(o));
  if ((sub == "load" || sub == "unload") && o.name.empty()) return Usage("models " + sub + " needs --model");
  if (sub == "load") return Report(v2p::client::RunModelsLoad(o));
  if (sub == "unload") return Report(v2p::client::RunModelsUnload(o));
  if (sub == "show") {
    if (o.name.empty()) return Usage("models show needs --model");
    return Report(v2p::client::RunModelsShow(o));
  }
  return Usage("models takes list, show, load or unload");
}

// reconstruct: betas from a file, images and metrics to --out.
int Reconstruct(const Invocation&) {
  v2p::client::ReconstructOptions o;
  o.server = absl::GetFlag(FLAGS_server);
  o.model = absl::GetFlag(FLAGS_model);
  o.version = absl::GetFlag(FLAGS_version);
  o.betas = absl::GetFlag(FLAGS_betas);
  o.var = absl::GetFlag(FLAGS_var);
  o.stimuli_var = absl::GetFlag(FLAGS_stimuli_var);
  const std::string layout = absl::GetFlag(FLAGS_stimuli_layout);
  if (layout != "column_major" && layout != "row_major") {
    return Usage("--stimuli_layout must be column_major or row_major");
  }
  o.stimuli_column_major = layout == "column_major";
  o.pixel_max = absl::GetFlag(FLAGS_pixel_max);
  o.out = absl::GetFlag(FLAGS_out);
  o.batch_size = absl::GetFlag(FLAGS_batch_size);
  o.stream = absl::GetFlag(FLAGS_stream);
  o.samples = absl::GetFlag(FLAGS_samples);
  o.deadline_s = absl::GetFlag(FLAGS_deadline_s);
  if (o.model.empty() || o.betas.empty() || o.var.empty() || o.out.empty()) {
    return Usage("reconstruct needs --model, --betas, --var and --out");
  }
  return Report(v2p::client::RunReconstruct(o));
}

int Train(const Invocation& c) {
  return absl::GetFlag(FLAGS_repo).empty() ? RemoteTrain(c) : LocalTrain(c);
}

int GeneratorsCommand(const Invocation& c) {
  return c.sub == "evaluate" ? GeneratorsEvaluate(c) : Generators(c);
}

// The command table: every `v2p COMMAND`.
const std::map<std::string, int (*)(const Invocation&)>& Commands() {
  static const auto* commands = new std::map<std::string, int (*)(const Invocation&)>{
      {"bench", Bench},
      {"datasets", Datasets},
      {"features", Features},
      {"gan", Gan},
      {"generators", GeneratorsCommand},
      {"jobs", Jobs},
      {"models", Models},
      {"reconstruct", Reconstruct},
      {"train", Train},
  };
  return *commands;
}

}  // namespace

int main(int argc, char** argv) {
  v2p::ListFlagsOfFileInHelp(__FILE__);
  absl::SetProgramUsageMessage(kUsage);
  std::vector<std::string> storage;
  std::vector<char*> args = NormaliseFlagNames(argc, argv, &storage);
  const std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  v2p::DisableMutexDeadlockDetection();
  if (positional.size() < 2) return Usage("missing command");
  const std::string command = positional[1];
  const auto it = Commands().find(command);
  if (it == Commands().end()) return Usage("unknown command '" + command.substr(0, 64) + "'");
  Invocation c;
  c.sub = positional.size() > 2 ? positional[2] : "";
  c.command_line = absl::StrJoin(std::vector<std::string>(argv, argv + argc), " ");
  return it->second(c);
}
