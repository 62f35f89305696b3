// v2p: the voxel2pixel command line. It talks to a server and links no
// LibTorch; the commands that run LibTorch here (train --repo, features,
// generators, gan) are handed to v2p-lab (experiments/main.cc).
//   v2p train --dataset DESC --spec SPEC --repo DIR --model NAME   (v2p-lab)
//   v2p models list|show --server ADDR [--model NAME]
//   v2p reconstruct --server ADDR --model NAME --betas FILE.mat --var VAR
//                   [--stimuli-var VAR] --out DIR
// Flags may be written with '-' or '_' (--stimuli-var = --stimuli_var).
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/command_line.h"
#include "client/commands.h"
#include "client/load_command.h"
#include "client/remote_commands.h"
#include "client/rpc_helpers.h"
#include "proto/serving.h"

ABSL_FLAG(std::string, server, "127.0.0.1:8500", "v2p-server address (host:port).");
ABSL_FLAG(std::string, model, "", "Model name.");
ABSL_FLAG(int64_t, version, 0, "Model version; 0 = latest.");
ABSL_FLAG(std::string, dataset, "", "train: dataset description (.pbtxt).");
ABSL_FLAG(std::string, spec, "",
          "train: pipeline spec (.pbtxt); empty: ridge to pixels, alpha by 5-fold CV.");
ABSL_FLAG(int, cv, 0,
          "train (local): K > 0 reports K-fold cross-validated scores over every paired trial "
          "(train and test pooled) and commits nothing.");
ABSL_FLAG(std::string, data_root, "",
          "A dataset description's relative `file` is resolved against this when given, else "
          "against the description's own directory; features train, generators and gan "
          "evaluate read the shared data (corpora, digit69) from it (default ../shared/data).");
ABSL_FLAG(std::string, betas, "",
          "reconstruct, evaluate, bench: file holding the betas: MATLAB v5 or v7.3 (.mat), NumPy "
          "(.npy, .npz), bdpy BData (.h5) or NIfTI (.nii, .nii.gz; with --mask).");
ABSL_FLAG(std::string, mask, "",
          "NIfTI --betas: mask volume; its non-zero voxels are read, x fastest, then y, then z "
          "(default: every voxel).");
ABSL_FLAG(std::string, var, "",
          "reconstruct: variable of samples x voxels betas (.npz member, .npy file stem, BData "
          "metadata key such as ROI_V1, 'betas' for NIfTI).");
ABSL_FLAG(std::string, stimuli_var, "", "reconstruct: variable of the seen images, for metrics.");
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
ABSL_FLAG(bool, attention, false,
          "reconstruct: also get each sample's decoded attention map (fattention models) and "
          "write it (<id>_attention.png, attention_sheet.png).");
ABSL_FLAG(bool, stream, false, "reconstruct: use StreamReconstruct.");
ABSL_FLAG(int, deadline_s, 60, "reconstruct: deadline per request, seconds.");
ABSL_FLAG(int, refine_iterations, 0,
          "reconstruct: a refined model's (method shen) iterations per request; 0: the model's "
          "own.");
ABSL_FLAG(int, progress_every, 0,
          "reconstruct: > 0: print a refined model's loss every this many iterations "
          "(ReconstructWithProgress).");
ABSL_FLAG(std::string, name, "", "datasets: dataset name.");
ABSL_FLAG(std::string, description, "", "datasets upload: dataset description (.pbtxt).");
ABSL_FLAG(std::string, service, "",
          "health: the service whose status to ask (e.g. voxel2pixel.v1.Reconstruction, which "
          "is SERVING while a worker is); empty: the process.");
ABSL_FLAG(uint64_t, seed, 0, "train --server: seed of the job's random choices.");
ABSL_FLAG(double, validation_split, 0,
          "train --server: fraction of trials held out; 0 = test split.");
ABSL_FLAG(bool, wait, false, "train --server: wait for the job, showing progress.");
ABSL_FLAG(std::string, job, "", "jobs: operations/<id> (or just <id>).");
ABSL_FLAG(std::string, filter, "", "jobs list: e.g. done=false, model=NAME, phase=FITTING.");
ABSL_FLAG(int, clients, 16, "bench: concurrent clients.");
ABSL_FLAG(double, duration, 10, "bench: seconds of load.");
ABSL_FLAG(int, window, 8,
          "bench --stream: samples in flight per stream; 1 sends the next sample when the "
          "previous result arrives, as a scanner feed does.");
ABSL_FLAG(int, timeout_s, 0, "jobs wait: give up after this long; 0 = until done.");

namespace {

using v2p::client::Invocation;

// --data_root for resolving a dataset description's file: empty when not
// given (the description's directory is used).
std::string DescriptionRootFlag() { return absl::GetFlag(FLAGS_data_root); }

constexpr char kUsage[] =
    "v2p <command> [flags]\n"
    "  train        --dataset DESC [--spec SPEC] --repo DIR --model NAME "
    "[--data_root DIR] [--cv K]\n"
    "  train        --server ADDR --dataset NAME [--spec SPEC] --model NAME [--wait]\n"
    "               [--seed N] [--validation_split F]\n"
    "  datasets upload --server ADDR --name NAME --description DESC [--data_root DIR]\n"
    "  datasets list|show|delete --server ADDR [--name NAME]\n"
    "  jobs list [--filter F] | show|wait|cancel|delete --job ID   (--server ADDR)\n"
    "  bench        --server ADDR --model NAME [--clients N] [--duration S] [--batch_size N | "
    "--stream [--window N]]\n"
    "               [--betas FILE.mat --var VAR]\n"
    "  features train|list|show|compare, generators train|evaluate, gan evaluate,\n"
    "  fattention evaluate, shen evaluate --repo DIR ...\n"
    "               (with train --repo: run by v2p-lab, beside v2p; see v2p-lab --help)\n"
    "  models list  --server ADDR\n"
    "  models show  --server ADDR --model NAME [--version N]\n"
    "  models load|unload --server ADDR --model NAME [--version N]\n"
    "  reconstruct  --server ADDR --model NAME --betas FILE --var VAR [--mask NII]\n"
    "               [--stimuli-var VAR] --out DIR [--batch_size N | --stream] [--samples N]\n"
    "               [--attention] [--refine_iterations N] [--progress_every N]\n"
    "  evaluate     the same, with --stimuli-var required: also report.html (scores, each\n"
    "               trial, stage times, SD maps), a page to open in a browser\n"
    "  health       --server ADDR [--service NAME]   (exit 0 when SERVING)";

int Report(const absl::Status& s) { return v2p::client::ReportStatus("v2p", s); }
int Usage(const std::string& why) { return v2p::client::ReportUsage("v2p", why, kUsage); }

int Health(const Invocation&) {
  return Report(v2p::client::RunHealth(absl::GetFlag(FLAGS_server), absl::GetFlag(FLAGS_service),
                                       std::min(absl::GetFlag(FLAGS_deadline_s), 10)));
}

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
    return Usage(
        "train --cv K trains locally: give --repo DIR (its feature networks and "
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
  o.mask = absl::GetFlag(FLAGS_mask);
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

// models list|show|load|unload.
int Models(const Invocation& c) {
  const std::string& sub = c.sub;
  v2p::client::ModelsOptions o{absl::GetFlag(FLAGS_server), absl::GetFlag(FLAGS_model),
                               absl::GetFlag(FLAGS_version)};
  if (sub == "list") return Report(v2p::client::RunModelsList(o));
  if ((sub == "load" || sub == "unload") && o.name.empty())
    return Usage("models " + sub + " needs --model");
  if (sub == "load") return Report(v2p::client::RunModelsLoad(o));
  if (sub == "unload") return Report(v2p::client::RunModelsUnload(o));
  if (sub == "show") {
    if (o.name.empty()) return Usage("models show needs --model");
    return Report(v2p::client::RunModelsShow(o));
  }
  return Usage("models takes list, show, load or unload");
}

// reconstruct and evaluate: betas from a file, images and metrics to --out.
int ReconstructWith(bool report) {
  v2p::client::ReconstructOptions o;
  o.report = report;
  o.server = absl::GetFlag(FLAGS_server);
  o.model = absl::GetFlag(FLAGS_model);
  o.version = absl::GetFlag(FLAGS_version);
  o.betas = absl::GetFlag(FLAGS_betas);
  o.mask = absl::GetFlag(FLAGS_mask);
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
  o.attention = absl::GetFlag(FLAGS_attention);
  o.deadline_s = absl::GetFlag(FLAGS_deadline_s);
  o.refine_iterations = absl::GetFlag(FLAGS_refine_iterations);
  o.progress_every = absl::GetFlag(FLAGS_progress_every);
  const char* command = report ? "evaluate" : "reconstruct";
  if (o.model.empty() || o.betas.empty() || o.var.empty() || o.out.empty()) {
    return Usage(absl::StrCat(command, " needs --model, --betas, --var and --out"));
  }
  if (report && o.stimuli_var.empty())
    return Usage("evaluate needs --stimuli-var: the images the betas were recorded for");
  return Report(v2p::client::RunReconstruct(o));
}
int Reconstruct(const Invocation&) { return ReconstructWith(false); }
int Evaluate(const Invocation&) { return ReconstructWith(true); }

}  // namespace

int main(int argc, char** argv) {
  // Local training, feature networks, generators and the papers' tables
  // run LibTorch: v2p-lab does them, so that this CLI links none.
  if (v2p::client::RunsInLab(argc, argv)) return v2p::client::ExecLab(argc, argv);
  v2p::ListFlagsOfFileInHelp(__FILE__);
  absl::SetProgramUsageMessage(kUsage);
  v2p::DisableMutexDeadlockDetection();
  if (auto tls = v2p::client::ClientCredentials(); !tls.ok()) return Report(tls.status());
  static const v2p::client::CommandTable kCommands = {
      {"bench", Bench},       {"datasets", Datasets}, {"jobs", Jobs},
      {"health", Health},     {"models", Models},     {"reconstruct", Reconstruct},
      {"train", RemoteTrain}, {"evaluate", Evaluate},
  };
  return v2p::client::RunCommandTable(argc, argv, kCommands, Usage);
}
