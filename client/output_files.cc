#include "client/output_files.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/evaluation/metrics.h"

namespace v2p::client {
namespace {

std::string Num(double v) {
  if (!std::isfinite(v)) return "null";
  return absl::StrFormat("%.6g", v);
}

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

std::string Row(const std::string& name, const core::ImageScores& s) {
  return absl::StrFormat("%-22s %6.3f ± %-5.3f %7.4f %6.3f ± %-5.3f %11.3f %12.3f\n", name, s.pcc,
                         s.pcc_sd, s.mse, s.ssim, s.ssim_sd, s.identification_pcc,
                         s.identification_ssim);
}

}  // namespace

Percentiles Summarize(std::vector<absl::Duration> samples) {
  Percentiles p;
  if (samples.empty()) return p;
  std::sort(samples.begin(), samples.end());
  const size_t n = samples.size();
  auto ms = [](absl::Duration d) { return absl::ToDoubleMilliseconds(d); };
  p.median_ms = n % 2 ? ms(samples[n / 2]) : (ms(samples[n / 2 - 1]) + ms(samples[n / 2])) / 2;
  auto rank = [&](double q) {
    return ms(samples[std::min(n - 1, static_cast<size_t>(std::ceil(q * n)) - 1)]);
  };
  p.p90_ms = rank(0.90);
  p.p99_ms = rank(0.99);
  return p;
}

std::string TimingsJson(const StageSamples& stages, int num_samples, int batch_size) {
  std::vector<std::string> fields;
  for (const auto& [name, values] : stages) {
    const Percentiles p = Summarize(values);
    fields.push_back(absl::StrCat("    ", Quote(name), ": {\"median\": ", Num(p.median_ms),
                                  ", \"p90\": ", Num(p.p90_ms), "}"));
  }
  return absl::StrCat("{\n  \"unit\": \"ms\",\n  \"samples\": ", num_samples,
                      ",\n  \"batch_size\": ", batch_size,
                      ",\n  \"note\": \"worker stages are per batch; "
                      "round_trip is the client's "
                      "wall time per request\",\n  \"stages\": {\n",
                      absl::StrJoin(fields, ",\n"), "\n  }\n}\n");
}

std::string MetricsJson(const MetricsReport& r) {
  std::string out =
      absl::StrCat("{\n  \"model\": ", Quote(r.model), ",\n  \"version\": ", r.version,
                   ",\n  \"ssim_definition\": ", Quote(r.ssim_definition));
  for (const auto& [k, v] : r.scores.ToMap())
    absl::StrAppend(&out, ",\n  ", Quote(k), ": ", Num(v));
  if (r.has_baseline) {
    absl::StrAppend(&out, ",\n  \"baseline\": {\"description\": \"mean training image\"");
    for (const auto& [k, v] : r.baseline.ToMap())
      absl::StrAppend(&out, ", ", Quote(k), ": ", Num(v));
    absl::StrAppend(&out, "}");
  }
  return out + "\n}\n";
}

std::string MetricsTable(const MetricsReport& r) {
  std::string out = absl::StrFormat("%-22s %14s %7s %14s %11s %12s\n", "", "PCC", "MSE", "SSIM-11g",
                                    "ident(PCC)", "ident(SSIM)");
  out += Row(absl::StrCat(r.model, " v", r.version), r.scores);
  if (r.has_baseline) out += Row("mean training image", r.baseline);
  return out;
}

std::string HyperparameterTable(const std::string& name, double chosen, int folds,
                                const std::vector<double>& grid, const std::vector<double>& error) {
  std::string out = absl::StrFormat(
      "%s chosen by %d-fold cross-validation on the fitted "
      "trials: %g\n  %-12s %s\n",
      name, folds, chosen, name, "held-out MSE");
  for (size_t i = 0; i < grid.size() && i < error.size(); ++i)
    absl::StrAppendFormat(&out, "  %-12g %.6g%s\n", grid[i], error[i],
                          grid[i] == chosen ? "  <- chosen" : "");
  return out;
}

std::string HyperparameterTable(const voxel2pixel::v1::Hyperparameter& h) {
  return HyperparameterTable(h.name(), h.chosen(), h.folds(), {h.grid().begin(), h.grid().end()},
                             {h.cv_error().begin(), h.cv_error().end()});
}

}  // namespace v2p::client
