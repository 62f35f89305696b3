#include "client/commands.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "client/output_files.h"
#include "client/report_html.h"
#include "client/rpc_helpers.h"
#include "core/base/files.h"
#include "core/base/status_macros.h"
#include "core/base/stopwatch.h"
#include "core/data/dataset.h"
#include "core/data/image.h"
#include "core/data/matrix_file.h"
#include "core/evaluation/contact_sheet.h"
#include "core/evaluation/metrics.h"
#include "core/evaluation/report.h"
#include "proto/rpc_status.h"
#include "voxel2pixel/v1/models_service.grpc.pb.h"
#include "voxel2pixel/v1/reconstruction_service.grpc.pb.h"

namespace v2p::client {
namespace {

namespace v1 = voxel2pixel::v1;
namespace fs = std::filesystem;

absl::StatusOr<v1::Model> GetModel(v1::Models::Stub& stub, const std::string& name,
                                   int64_t version) {
  v1::GetModelRequest req;
  req.set_name(name);
  req.set_version(version);
  v1::Model model;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 30);
  RETURN_IF_ERROR(RpcStatus((stub.GetModel(&ctx, req, &model)), "GetModel"));
  return model;
}

std::string MetricOrDash(const google::protobuf::Map<std::string, double>& m,
                         const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? "-" : absl::StrFormat("%.3f", it->second);
}

// `k`'s value in `m`, with its SD (`k`_sd) when there is one, or "-".
std::string MetricWithSd(const google::protobuf::Map<std::string, double>& m,
                         const std::string& k) {
  auto it = m.find(k);
  if (it == m.end()) return "-";
  auto sd = m.find(k + "_sd");
  return sd == m.end() ? absl::StrFormat("%.4f", it->second)
                       : absl::StrFormat("%.4f ± %.4f", it->second, sd->second);
}

// The metric names of `m` to show, one row each: the usual ones first, in
// the order of the README's tables, then any others by name; SDs go beside
// their metric and the sample count is in the heading.
std::vector<std::string> MetricRows(const google::protobuf::Map<std::string, double>& m) {
  std::vector<std::string> rows;
  for (const char* k : {"pcc", "mse", "ssim", "identification_pcc", "identification_ssim"}) {
    if (m.contains(k)) rows.push_back(k);
  }
  std::vector<std::string> others;
  for (const auto& [k, v] : m) {
    if (std::find(rows.begin(), rows.end(), k) == rows.end() && k != "num_samples" &&
        !(absl::EndsWith(k, "_sd") && m.contains(k.substr(0, k.size() - 3)))) {
      others.push_back(k);
    }
  }
  std::sort(others.begin(), others.end());
  rows.insert(rows.end(), others.begin(), others.end());
  return rows;
}

void AddTimings(const v1::StageTimings& t, StageSamples* out) {
  (*out)["queue"].push_back(FromDurationProto(t.queue()));
  (*out)["preprocess"].push_back(FromDurationProto(t.preprocess()));
  (*out)["decode"].push_back(FromDurationProto(t.decode()));
  (*out)["generate"].push_back(FromDurationProto(t.generate()));
  (*out)["encode"].push_back(FromDurationProto(t.encode()));
  (*out)["total"].push_back(FromDurationProto(t.total()));
}

// One request through ReconstructWithProgress: a line per progress
// message (the batch's mean loss), then the response.
absl::Status ReconstructWithProgress(v1::Reconstruction::Stub& stub,
                                     const v1::ReconstructRequest& req, grpc::ClientContext* ctx,
                                     const std::string& what, v1::ReconstructResponse* resp) {
  auto reader = stub.ReconstructWithProgress(ctx, req);
  v1::ReconstructProgress msg;
  bool answered = false;
  while (reader->Read(&msg)) {
    if (msg.has_response()) {
      *resp = std::move(*msg.mutable_response());
      answered = true;
      continue;
    }
    double loss = 0;
    for (const auto& s : msg.progress().samples()) loss += s.loss();
    std::printf("%s: iteration %d, mean loss %.6g\n", what.c_str(), msg.progress().iteration(),
                loss / std::max(1, msg.progress().samples_size()));
    std::fflush(stdout);
  }
  RETURN_IF_ERROR(
      RpcStatus(reader->Finish(), absl::StrCat("ReconstructWithProgress (", what, ")")));
  if (!answered) return absl::DataLossError("the progress stream ended without a response");
  return absl::OkStatus();
}

// Sends every row of `betas`; fills `results` in sample order.
absl::Status SendUnary(v1::Reconstruction::Stub& stub, const ReconstructOptions& o,
                       const Eigen::MatrixXd& betas, std::vector<v1::ReconstructionResult>* results,
                       StageSamples* timings) {
  for (Eigen::Index start = 0; start < betas.rows(); start += o.batch_size) {
    v1::ReconstructRequest req;
    req.set_model(o.model);
    req.set_model_version(o.version);
    req.set_include_pixels(true);
    req.set_include_attention(o.attention);
    req.set_num_samples(o.samples);
    req.set_refine_iterations(o.refine_iterations);
    req.set_progress_every(o.progress_every);
    const Eigen::Index end = std::min<Eigen::Index>(betas.rows(), start + o.batch_size);
    for (Eigen::Index i = start; i < end; ++i) {
      auto* s = req.add_samples();
      s->set_id(absl::StrFormat("sample_%03d", i));
      for (Eigen::Index v = 0; v < betas.cols(); ++v) s->add_betas(static_cast<float>(betas(i, v)));
    }
    v1::ReconstructResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx, o.deadline_s);
    core::Stopwatch watch;
    const std::string what = absl::StrCat("samples ", start, "-", end - 1);
    if (o.progress_every > 0) {
      RETURN_IF_ERROR(ReconstructWithProgress(stub, req, &ctx, what, &resp));
    } else {
      RETURN_IF_ERROR(
          RpcStatus(stub.Reconstruct(&ctx, req, &resp), absl::StrCat("Reconstruct (", what, ")")));
    }
    const absl::Duration round_trip = watch.Elapsed();
    if (resp.results_size() != end - start) {
      return absl::DataLossError(absl::StrCat("server returned ", resp.results_size(),
                                              " results for ", end - start, " samples"));
    }
    for (auto& r : *resp.mutable_results()) {
      AddTimings(r.timings(), timings);
      (*timings)["round_trip"].push_back(round_trip);
      results->push_back(std::move(r));
    }
  }
  return absl::OkStatus();
}

absl::Status SendStream(v1::Reconstruction::Stub& stub, const ReconstructOptions& o,
                        const Eigen::MatrixXd& betas,
                        std::vector<v1::ReconstructionResult>* results, StageSamples* timings) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx, o.deadline_s * std::max<int>(1, static_cast<int>(betas.rows())));
  auto stream = stub.StreamReconstruct(&ctx);
  std::vector<absl::Time> sent(betas.rows());
  std::thread writer([&] {
    for (Eigen::Index i = 0; i < betas.rows(); ++i) {
      v1::StreamReconstructRequest req;
      if (i == 0) {
        req.set_model(o.model);
        req.set_model_version(o.version);
      }
      req.set_include_pixels(true);
      req.set_include_attention(o.attention);
      req.set_num_samples(o.samples);
      req.mutable_sample()->set_id(absl::StrFormat("sample_%03d", i));
      for (Eigen::Index v = 0; v < betas.cols(); ++v) {
        req.mutable_sample()->add_betas(static_cast<float>(betas(i, v)));
      }
      sent[i] = absl::Now();
      if (!stream->Write(req)) break;
    }
    stream->WritesDone();
  });
  v1::StreamReconstructResponse resp;
  while (stream->Read(&resp)) {
    const size_t i = results->size();
    if (i < sent.size()) (*timings)["round_trip"].push_back(absl::Now() - sent[i]);
    AddTimings(resp.result().timings(), timings);
    results->push_back(std::move(*resp.mutable_result()));
  }
  writer.join();
  RETURN_IF_ERROR(RpcStatus((stream->Finish()), "StreamReconstruct"));
  if (results->size() != static_cast<size_t>(betas.rows())) {
    return absl::DataLossError(absl::StrCat("stream returned ", results->size(), " results for ",
                                            betas.rows(), " samples"));
  }
  return absl::OkStatus();
}

// The draws of each result and their SD maps as PNGs, and samples_sheet.png:
// one column per sample, (stimulus,) z = 0, each draw, then 2 x SD.
absl::Status WriteDraws(const ReconstructOptions& o,
                        const std::vector<v1::ReconstructionResult>& results,
                        core::ImageShape shape, std::vector<Eigen::MatrixXf> rows) {
  // One column per sample: (stimulus,) z = 0, each draw, then 2 x SD.
  std::vector<Eigen::MatrixXf> draws(o.samples,
                                     Eigen::MatrixXf(results.size(), shape.num_pixels()));
  Eigen::MatrixXf sd(results.size(), shape.num_pixels());
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    if (r.samples_size() != o.samples || r.pixel_sd().pixels_size() != shape.num_pixels())
      return absl::DataLossError(absl::StrCat("result ", r.sample_id(), " has ", r.samples_size(),
                                              " draws; asked for ", o.samples));
    for (int k = 0; k < o.samples; ++k) {
      RETURN_IF_ERROR(core::WriteFile(absl::StrCat(o.out, "/", r.sample_id(), "_sample", k, ".png"),
                                      r.samples(k).png()));
      draws[k].row(i) =
          Eigen::Map<const Eigen::RowVectorXf>(r.samples(k).pixels().data(), shape.num_pixels());
    }
    RETURN_IF_ERROR(
        core::WriteFile(absl::StrCat(o.out, "/", r.sample_id(), "_sd.png"), r.pixel_sd().png()));
    sd.row(i) = 2.0f * Eigen::Map<const Eigen::RowVectorXf>(r.pixel_sd().pixels().data(),
                                                            shape.num_pixels());
  }
  for (auto& d : draws) rows.push_back(std::move(d));
  rows.push_back(sd.cwiseMin(1.0f));
  ASSIGN_OR_RETURN(const std::string with_draws, core::ContactSheetPng(rows, shape));
  RETURN_IF_ERROR(core::WriteFile(o.out + "/samples_sheet.png", with_draws));
  return absl::OkStatus();
}

// Each result's attention map as <id>_attention.png, and attention_sheet.png:
// one column per sample, the maps in the last row (below the stimuli and
// reconstructions in `rows` when the images have one channel, as the maps do).
absl::Status WriteAttention(const ReconstructOptions& o,
                            const std::vector<v1::ReconstructionResult>& results,
                            core::ImageShape shape, std::vector<Eigen::MatrixXf> rows) {
  const core::ImageShape map_shape{shape.height, shape.width, 1};
  Eigen::MatrixXf maps(results.size(), map_shape.num_pixels());
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& a = results[i].attention();
    if (a.pixels_size() != map_shape.num_pixels())
      return absl::DataLossError(absl::StrCat("result ", results[i].sample_id(), " has ",
                                              a.pixels_size(), " attention values; expected ",
                                              map_shape.num_pixels()));
    RETURN_IF_ERROR(core::WriteFile(
        absl::StrCat(o.out, "/", results[i].sample_id(), "_attention.png"), a.png()));
    maps.row(i) = Eigen::Map<const Eigen::RowVectorXf>(a.pixels().data(), map_shape.num_pixels());
  }
  if (shape.channels != 1) rows.clear();
  rows.push_back(std::move(maps));
  ASSIGN_OR_RETURN(const std::string sheet, core::ContactSheetPng(rows, map_shape));
  return core::WriteFile(o.out + "/attention_sheet.png", sheet);
}

// metrics.json and the printed table: the reconstructions against the
// stimuli, beside the model's mean training image.
absl::StatusOr<MetricsReport> WriteMetrics(const ReconstructOptions& o, const v1::Model& model,
                                           const Eigen::MatrixXf& recon,
                                           const Eigen::MatrixXd& stimuli, core::ImageShape shape) {
  MetricsReport report;
  report.model = model.name();
  report.version = model.version();
  ASSIGN_OR_RETURN(report.scores, core::ScoreReconstructions(recon.cast<double>(), stimuli, shape));
  const auto& mean = model.mean_training_image().pixels();
  if (mean.size() == shape.num_pixels()) {
    const Eigen::RowVectorXd m =
        Eigen::Map<const Eigen::RowVectorXf>(mean.data(), mean.size()).cast<double>();
    ASSIGN_OR_RETURN(report.baseline,
                     core::ScoreReconstructions(m.replicate(stimuli.rows(), 1), stimuli, shape));
    report.has_baseline = true;
  }
  report.ssim_definition = core::SsimDefinition(shape);
  RETURN_IF_ERROR(core::WriteFile(o.out + "/metrics.json", MetricsJson(report)));
  std::printf("\n%s\nSSIM: %s\nwrote metrics.json\n", MetricsTable(report).c_str(),
              report.ssim_definition.c_str());
  return report;
}

// report.html: what the files above hold, on one page a person looks at.
absl::Status WriteReport(const ReconstructOptions& o, const v1::Model& model,
                         const std::vector<v1::ReconstructionResult>& results,
                         ReportInputs inputs) {
  inputs.model = model.name();
  inputs.version = model.version();
  inputs.description = model.pipeline_description();
  inputs.dataset = model.dataset();
  inputs.source = absl::StrCat(o.betas, " (", o.var, ")");
  for (const auto& r : results) {
    inputs.ids.push_back(r.sample_id());
    if (o.samples > 0) inputs.sd_pngs.push_back(r.pixel_sd().png());
  }
  ASSIGN_OR_RETURN(const std::string html, ReportHtml(inputs));
  RETURN_IF_ERROR(core::WriteFile(o.out + "/report.html", html));
  std::printf("wrote report.html (open it in a browser)\n");
  return absl::OkStatus();
}

absl::Status WriteOutputs(const ReconstructOptions& o, const v1::Model& model,
                          const std::vector<v1::ReconstructionResult>& results,
                          const Eigen::MatrixXd& stimuli, const StageSamples& timings) {
  const core::ImageShape shape{model.image_shape().height(), model.image_shape().width(),
                               model.image_shape().channels()};
  Eigen::MatrixXf recon(results.size(), shape.num_pixels());
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    RETURN_IF_ERROR(
        core::WriteFile(absl::StrCat(o.out, "/", r.sample_id(), ".png"), r.image().png()));
    if (r.image().pixels_size() != shape.num_pixels()) {
      return absl::DataLossError(
          absl::StrCat("result ", r.sample_id(), " has ", r.image().pixels_size(), " pixels"));
    }
    recon.row(i) =
        Eigen::Map<const Eigen::RowVectorXf>(r.image().pixels().data(), shape.num_pixels());
  }
  std::vector<Eigen::MatrixXf> rows;
  if (stimuli.size() > 0) rows.push_back(stimuli.cast<float>());
  rows.push_back(recon);
  ASSIGN_OR_RETURN(const std::string sheet, core::ContactSheetPng(rows, shape));
  RETURN_IF_ERROR(core::WriteFile(o.out + "/contact_sheet.png", sheet));
  if (o.attention) RETURN_IF_ERROR(WriteAttention(o, results, shape, rows));
  if (o.samples > 0) RETURN_IF_ERROR(WriteDraws(o, results, shape, std::move(rows)));
  RETURN_IF_ERROR(core::WriteFile(
      o.out + "/timings.json",
      TimingsJson(timings, static_cast<int>(results.size()), o.stream ? 1 : o.batch_size)));
  std::printf("wrote %zu images, contact_sheet.png and timings.json to %s\n", results.size(),
              o.out.c_str());
  const Percentiles total = Summarize(timings.at("total")),
                    rt = Summarize(timings.at("round_trip"));
  std::printf(
      "worker total: median %.3f ms, p90 %.3f ms; round trip: median %.3f ms, "
      "p90 %.3f ms\n",
      total.median_ms, total.p90_ms, rt.median_ms, rt.p90_ms);
  if (stimuli.size() == 0) return absl::OkStatus();
  ASSIGN_OR_RETURN(MetricsReport metrics, WriteMetrics(o, model, recon, stimuli, shape));
  if (!o.report) return absl::OkStatus();
  ReportInputs inputs;
  inputs.shape = shape;
  inputs.stimuli = stimuli.cast<float>();
  inputs.recon = recon;
  inputs.metrics = std::move(metrics);
  inputs.timings = timings;
  inputs.contact_sheet_png = sheet;
  return WriteReport(o, model, results, std::move(inputs));
}

}  // namespace

absl::Status RunModelsList(const ModelsOptions& o) {
  auto stub = v1::Models::NewStub(Connect(o.server));
  v1::ListModelsResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 30);
  RETURN_IF_ERROR(RpcStatus((stub->ListModels(&ctx, {}, &resp)), "ListModels"));
  std::printf("%-24s %8s %7s %-9s %6s %11s  %s\n", "NAME", "VERSION", "VOXELS", "IMAGE", "PCC",
              "IDENT(PCC)", "PIPELINE");
  for (const auto& m : resp.models()) {
    std::printf("%-24s %8lld %7d %-9s %6s %11s  %s\n", m.name().c_str(),
                static_cast<long long>(m.version()), m.num_voxels(),
                absl::StrCat(m.image_shape().height(), "x", m.image_shape().width(), "x",
                             m.image_shape().channels())
                    .c_str(),
                MetricOrDash(m.evaluation().metrics(), "pcc").c_str(),
                MetricOrDash(m.evaluation().metrics(), "identification_pcc").c_str(),
                m.pipeline_description().c_str());
  }
  if (resp.models().empty()) std::printf("(no models; train one with `v2p train`)\n");
  return absl::OkStatus();
}

absl::Status RunModelsShow(const ModelsOptions& o) {
  auto stub = v1::Models::NewStub(Connect(o.server));
  ASSIGN_OR_RETURN(const v1::Model m, GetModel(*stub, o.name, o.version));
  std::string versions;
  for (int64_t v : m.available_versions())
    absl::StrAppend(&versions, versions.empty() ? "" : ", ", v);
  std::printf(
      "name:       %s\nversion:    %lld (available: %s)\ndataset:    "
      "%s\nvoxels:     %d\n"
      "image:      %dx%dx%d\npipeline:   %s\ncreated:    %s\n",
      m.name().c_str(), static_cast<long long>(m.version()), versions.c_str(), m.dataset().c_str(),
      m.num_voxels(), m.image_shape().height(), m.image_shape().width(), m.image_shape().channels(),
      m.pipeline_description().c_str(),
      absl::FormatTime(absl::FromUnixSeconds(m.create_time().seconds())).c_str());
  const auto& e = m.evaluation();
  std::printf("evaluation: %s split, %d samples (SSIM: %s)\n", e.split().c_str(), e.num_samples(),
              e.ssim_definition().c_str());
  // Padded by characters, not bytes ("±" is two bytes of UTF-8).
  auto pad = [](std::string text, size_t width) {
    const size_t chars =
        std::count_if(text.begin(), text.end(), [](char c) { return (c & 0xC0) != 0x80; });
    if (chars < width) text.append(width - chars, ' ');
    return text;
  };
  std::printf("  %-22s %s %s\n", "metric", pad("model", 18).c_str(), "mean image");
  for (const std::string& k : MetricRows(e.metrics())) {
    std::printf("  %-22s %s %s\n", k.c_str(), pad(MetricWithSd(e.metrics(), k), 18).c_str(),
                MetricWithSd(e.baseline_metrics(), k).c_str());
  }
  for (const auto& h : e.hyperparameters()) std::printf("%s", HyperparameterTable(h).c_str());
  for (const auto& p : m.placement()) {
    std::string versions;
    for (int64_t v : p.versions()) absl::StrAppend(&versions, versions.empty() ? "" : ",", v);
    std::printf("loaded on:  %s (versions %s)\n", p.worker().c_str(), versions.c_str());
  }
  if (m.placement().empty()) std::printf("loaded on:  no worker yet (loads on first request)\n");
  std::printf("spec:\n%s\n", m.pipeline_spec().c_str());
  return absl::OkStatus();
}

absl::Status RunModelsLoad(const ModelsOptions& o) {
  auto stub = v1::Models::NewStub(Connect(o.server));
  v1::LoadModelRequest req;
  req.set_name(o.name);
  req.set_version(o.version);
  v1::Model m;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 120);
  RETURN_IF_ERROR(RpcStatus((stub->LoadModel(&ctx, req, &m)), "LoadModel"));
  std::printf("loaded %s version %lld on %d worker(s)\n", m.name().c_str(),
              static_cast<long long>(m.version()), m.placement_size());
  return absl::OkStatus();
}

absl::Status RunModelsUnload(const ModelsOptions& o) {
  auto stub = v1::Models::NewStub(Connect(o.server));
  v1::UnloadModelRequest req;
  req.set_name(o.name);
  req.set_version(o.version);
  google::protobuf::Empty empty;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 60);
  RETURN_IF_ERROR(RpcStatus((stub->UnloadModel(&ctx, req, &empty)), "UnloadModel"));
  std::printf("unloaded %s%s from every worker\n", o.name.c_str(),
              o.version == 0 ? "" : absl::StrCat(" version ", o.version).c_str());
  return absl::OkStatus();
}

absl::Status RunReconstruct(const ReconstructOptions& o) {
  if (o.batch_size < 1) return absl::InvalidArgumentError("--batch_size must be >= 1");
  if (o.refine_iterations < 0 || o.progress_every < 0)
    return absl::InvalidArgumentError("--refine_iterations and --progress_every must be >= 0");
  if (o.stream && (o.refine_iterations > 0 || o.progress_every > 0))
    return absl::InvalidArgumentError(
        "--refine_iterations and --progress_every go with batches, not --stream");
  if (o.report && o.stimuli_var.empty())
    return absl::InvalidArgumentError("evaluate needs --stimuli_var: the images to score against");
  auto channel = Connect(o.server);
  auto models = v1::Models::NewStub(channel);
  auto reconstruction = v1::Reconstruction::NewStub(channel);
  ASSIGN_OR_RETURN(const v1::Model model, GetModel(*models, o.model, o.version));
  ASSIGN_OR_RETURN(auto mat, core::OpenMatrixFile(o.betas, {o.mask}));
  ASSIGN_OR_RETURN(const Eigen::MatrixXd betas, mat->ReadMatrix(o.var));
  if (betas.cols() != model.num_voxels())
    return absl::InvalidArgumentError(absl::StrCat(
        o.var, " is ", betas.rows(), " x ", betas.cols(), "; ", model.name(), " takes ",
        model.num_voxels(), " voxels per sample, one sample per row",
        betas.rows() == model.num_voxels() ? " (it looks stored voxels x samples: transpose it)"
                                           : ""));
  Eigen::MatrixXd stimuli;
  if (!o.stimuli_var.empty()) {
    ASSIGN_OR_RETURN(const Eigen::MatrixXd raw, mat->ReadMatrix(o.stimuli_var));
    const core::ImageShape shape{model.image_shape().height(), model.image_shape().width(),
                                 model.image_shape().channels()};
    if (raw.rows() != betas.rows() || raw.cols() != shape.num_pixels()) {
      return absl::InvalidArgumentError(absl::StrCat(
          o.stimuli_var, " is ", raw.rows(), "x", raw.cols(), "; expected ", betas.rows(), "x",
          shape.num_pixels(), " (one ", shape.height, "x", shape.width, " image per sample)"));
    }
    // The flag's value, else the model's training stimuli's, else inferred;
    // either way checked against the values.
    const double declared = o.pixel_max > 0 ? o.pixel_max : model.pixel_max();
    if (o.pixel_max < 0 || !std::isfinite(o.pixel_max))
      return absl::InvalidArgumentError("--pixel_max must be > 0 (or 0 for the model's)");
    auto pixel_max = core::ResolvePixelMax(raw, o.stimuli_var, declared);
    if (!pixel_max.ok())
      return absl::InvalidArgumentError(absl::StrCat(
          pixel_max.status().message(),
          o.pixel_max > 0 ? "" : " (the value recorded with the model; set --pixel_max)"));
    std::printf("%s: white is %g (%s)\n", o.stimuli_var.c_str(), *pixel_max,
                o.pixel_max > 0         ? "--pixel_max"
                : model.pixel_max() > 0 ? "the model's training stimuli"
                                        : "inferred from the values");
    stimuli = core::ToRowMajorImages(raw, shape,
                                     o.stimuli_column_major ? core::ImageLayout::kColumnMajor
                                                            : core::ImageLayout::kRowMajor) /
              *pixel_max;
  }
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", o.out, ": ", ec.message()));
  std::printf("reconstructing %lld samples of %s with %s v%lld via %s (%s)\n",
              static_cast<long long>(betas.rows()), o.var.c_str(), model.name().c_str(),
              static_cast<long long>(model.version()), o.server.c_str(),
              o.stream ? "stream" : absl::StrCat("batches of ", o.batch_size).c_str());
  std::vector<v1::ReconstructionResult> results;
  StageSamples timings;
  RETURN_IF_ERROR(o.stream ? SendStream(*reconstruction, o, betas, &results, &timings)
                           : SendUnary(*reconstruction, o, betas, &results, &timings));
  return WriteOutputs(o, model, results, stimuli, timings);
}

}  // namespace v2p::client
