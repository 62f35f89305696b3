#include "core/pipeline/manifest.h"
#include "core/base/files.h"

#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/base/status_macros.h"
#include "core/data/image.h"

namespace v2p::core {
namespace {

constexpr char kMetricPrefix[] = "eval.metric.";
constexpr char kBaselinePrefix[] = "eval.baseline.";
constexpr char kHyperparameterPrefix[] = "hyperparameter.";

std::string OneLine(const std::string& s) {
  return absl::StrReplaceAll(s, {{"\r", " "}, {"\n", " "}});
}

class Fields {
 public:
  Fields(std::map<std::string, std::string> kv, std::string path)
      : kv_(std::move(kv)), path_(std::move(path)) {}

  absl::StatusOr<std::string> Str(const std::string& key) const {
    auto it = kv_.find(key);
    if (it == kv_.end()) return absl::DataLossError(absl::StrCat(path_, ": missing '", key, "'"));
    return it->second;
  }
  absl::StatusOr<int64_t> Int(const std::string& key) const {
    ASSIGN_OR_RETURN(std::string s, Str(key));
    int64_t v;
    if (!absl::SimpleAtoi(s, &v)) return Bad(key, s);
    return v;
  }
  absl::StatusOr<double> Double(const std::string& s, const std::string& key) const {
    double v;
    if (!absl::SimpleAtod(s, &v)) return Bad(key, s);
    return v;
  }
  absl::Status Bad(const std::string& key, const std::string& value) const {
    return absl::DataLossError(absl::StrCat(path_, ": bad value '", value, "' for '", key, "'"));
  }
  const std::map<std::string, std::string>& all() const { return kv_; }

 private:
  std::map<std::string, std::string> kv_;
  std::string path_;
};

}  // namespace

int64_t ModelManifest::num_outputs() const {
  if (target == "pixels") return image.num_pixels();
  int64_t n = 0;
  for (const auto& l : feature_layers) n += l.size;
  return n;
}

absl::Status WriteManifest(const std::string& path, const ModelManifest& m) {
  std::ostringstream out;
  out << "# voxel2pixel model manifest\n"
      << "format_version: " << ModelManifest::kFormatVersion << "\n"
      << "name: " << m.name << "\n"
      << "dataset: " << OneLine(m.dataset) << "\n"
      << "create_time_unix_ms: " << absl::ToUnixMillis(m.create_time) << "\n"
      << "num_voxels: " << m.num_voxels << "\n"
      << "image_height: " << m.image.height << "\n"
      << "image_width: " << m.image.width << "\n"
      << "image_channels: " << m.image.channels << "\n"
      << "pixel_max: " << m.pixel_max << "\n"
      << "method: " << m.method << "\n"
      << "decoder: " << m.decoder << "\n"
      << "generator: " << m.generator << "\n"
      << "clip_output: " << (m.clip_output ? "true" : "false") << "\n"
      << "target: " << m.target << "\n"
      << "description: " << OneLine(m.description) << "\n"
      << "fit_seconds: " << m.fit_seconds << "\n"
      << "eval.split: " << m.evaluation.split << "\n"
      << "eval.num_samples: " << m.evaluation.num_samples << "\n"
      << "eval.ssim_definition: " << OneLine(m.evaluation.ssim_definition) << "\n";
  if (m.target != "pixels") {
    out << "feature_network: " << m.feature_network << "\n"
        << "top_k_units: " << m.top_k_units << "\n"
        << "generator_condition_units: " << m.generator_condition_units << "\n";
    for (const auto& l : m.feature_layers)
      out << "feature_layer." << l.name << ": " << absl::StrJoin(l.shape, "x") << "\n";
  }
  out.precision(17);
  for (const auto& h : m.evaluation.hyperparameters) {
    out << kHyperparameterPrefix << h.name << ": chosen " << h.chosen << " folds " << h.folds
        << " grid";
    for (size_t i = 0; i < h.grid.size(); ++i) out << " " << h.grid[i] << ":" << h.error[i];
    out << "\n";
  }
  for (const auto& [k, v] : m.evaluation.metrics) out << kMetricPrefix << k << ": " << v << "\n";
  for (const auto& [k, v] : m.evaluation.baseline_metrics) {
    out << kBaselinePrefix << k << ": " << v << "\n";
  }
  return WriteFile(path, out.str());
}

namespace {

// "key: value" lines ('#' comments and blank lines skipped).
absl::StatusOr<std::map<std::string, std::string>> ParseKeyValues(const std::string& text,
                                                                  const std::string& path) {
  std::map<std::string, std::string> kv;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) {
      return absl::DataLossError(absl::StrCat(path, ":", line_no, ": expected 'key: value'"));
    }
    kv[std::string(absl::StripAsciiWhitespace(line.substr(0, colon)))] =
        std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  }
  return kv;
}

// A features or latent model's network, unit counts and layers (in output
// order: the order of their lines in the file).
absl::Status ReadTargetFields(const Fields& f, const std::string& text, const std::string& path,
                              ModelManifest* m) {
  ASSIGN_OR_RETURN(m->feature_network, f.Str("feature_network"));
  if (f.all().count("top_k_units")) {
    ASSIGN_OR_RETURN(m->top_k_units, f.Int("top_k_units"));
    if (m->top_k_units < 0) return f.Bad("top_k_units", absl::StrCat(m->top_k_units));
  }
  if (f.all().count("generator_condition_units")) {
    ASSIGN_OR_RETURN(m->generator_condition_units, f.Int("generator_condition_units"));
    if (m->generator_condition_units < 0)
      return f.Bad("generator_condition_units", absl::StrCat(m->generator_condition_units));
  }
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!absl::ConsumePrefix(&line, "feature_layer.")) continue;
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    ModelManifest::FeatureLayer l;
    l.name = std::string(line.substr(0, colon));
    l.size = 1;
    for (absl::string_view d :
         absl::StrSplit(absl::StripAsciiWhitespace(line.substr(colon + 1)), 'x')) {
      int64_t v = 0;
      if (!absl::SimpleAtoi(d, &v) || v <= 0)
        return f.Bad("feature_layer." + l.name, std::string(line));
      l.shape.push_back(v);
      l.size *= v;
    }
    m->feature_layers.push_back(std::move(l));
  }
  if (m->feature_layers.empty())
    return absl::DataLossError(absl::StrCat(path, ": a features model names no feature_layer"));
  return absl::OkStatus();
}

absl::Status ReadEvaluation(const Fields& f, ModelManifest::Evaluation* e) {
  ASSIGN_OR_RETURN(e->split, f.Str("eval.split"));
  ASSIGN_OR_RETURN(const int64_t n, f.Int("eval.num_samples"));
  e->num_samples = static_cast<int>(n);
  ASSIGN_OR_RETURN(e->ssim_definition, f.Str("eval.ssim_definition"));
  for (const auto& [key, value] : f.all()) {
    absl::string_view k = key;
    std::map<std::string, double>* target = nullptr;
    if (absl::ConsumePrefix(&k, kMetricPrefix)) target = &e->metrics;
    if (absl::ConsumePrefix(&k, kBaselinePrefix)) target = &e->baseline_metrics;
    if (target == nullptr) continue;
    ASSIGN_OR_RETURN((*target)[std::string(k)], f.Double(value, key));
  }
  return absl::OkStatus();
}

// "chosen C folds K grid v:e v:e ..." (ModelManifest::Evaluation::Hyperparameter).
absl::Status ReadHyperparameters(const Fields& f, ModelManifest* m) {
  for (const auto& [key, value] : f.all()) {
    absl::string_view k = key;
    if (!absl::ConsumePrefix(&k, kHyperparameterPrefix)) continue;
    ModelManifest::Evaluation::Hyperparameter h;
    h.name = std::string(k);
    const std::vector<absl::string_view> words = absl::StrSplit(value, ' ', absl::SkipEmpty());
    int64_t folds = 0;
    if (words.size() < 6 || words[0] != "chosen" || words[2] != "folds" || words[4] != "grid" ||
        !absl::SimpleAtod(words[1], &h.chosen) || !absl::SimpleAtoi(words[3], &folds))
      return f.Bad(key, value);
    h.folds = static_cast<int>(folds);
    for (size_t i = 5; i < words.size(); ++i) {
      const std::vector<absl::string_view> pair = absl::StrSplit(words[i], ':');
      double v = 0, e = 0;
      if (pair.size() != 2 || !absl::SimpleAtod(pair[0], &v) || !absl::SimpleAtod(pair[1], &e))
        return f.Bad(key, value);
      h.grid.push_back(v);
      h.error.push_back(e);
    }
    m->evaluation.hyperparameters.push_back(std::move(h));
  }
  return absl::OkStatus();
}

}  // namespace

std::string LegacyMethodName(const ModelManifest& m) {
  if (m.generator == "dand") return "dand";
  if (m.target == "latent") return "hyper";
  if (m.target == "features") return "features";
  return "pixels";
}

absl::StatusOr<ModelManifest> ReadManifest(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  ASSIGN_OR_RETURN(auto kv, ParseKeyValues(text, path));
  const Fields f(std::move(kv), path);
  ASSIGN_OR_RETURN(const int64_t format, f.Int("format_version"));
  if (format != ModelManifest::kFormatVersion) {
    return absl::DataLossError(absl::StrCat(path, ": manifest format ", format,
                                            " is not supported (this build reads ",
                                            ModelManifest::kFormatVersion, ")"));
  }
  ModelManifest m;
  ASSIGN_OR_RETURN(m.name, f.Str("name"));
  ASSIGN_OR_RETURN(m.dataset, f.Str("dataset"));
  ASSIGN_OR_RETURN(const int64_t created, f.Int("create_time_unix_ms"));
  m.create_time = absl::FromUnixMillis(created);
  ASSIGN_OR_RETURN(const int64_t voxels, f.Int("num_voxels"));
  ASSIGN_OR_RETURN(const int64_t h, f.Int("image_height"));
  ASSIGN_OR_RETURN(const int64_t w, f.Int("image_width"));
  ASSIGN_OR_RETURN(const int64_t c, f.Int("image_channels"));
  m.num_voxels = static_cast<int>(voxels);
  m.image = {static_cast<int>(h), static_cast<int>(w), static_cast<int>(c)};
  if (m.num_voxels <= 0 || m.image.num_pixels() <= 0) {
    return absl::DataLossError(absl::StrCat(path, ": voxel count and image shape must be > 0"));
  }
  ASSIGN_OR_RETURN(m.decoder, f.Str("decoder"));
  ASSIGN_OR_RETURN(m.generator, f.Str("generator"));
  ASSIGN_OR_RETURN(const std::string clip, f.Str("clip_output"));
  if (clip != "true" && clip != "false") return f.Bad("clip_output", clip);
  m.clip_output = clip == "true";
  ASSIGN_OR_RETURN(m.description, f.Str("description"));
  if (f.all().count("pixel_max")) {
    ASSIGN_OR_RETURN(const std::string text, f.Str("pixel_max"));
    ASSIGN_OR_RETURN(m.pixel_max, f.Double(text, "pixel_max"));
    if (!(m.pixel_max >= 0)) return f.Bad("pixel_max", text);
  }
  if (f.all().count("fit_seconds")) {
    ASSIGN_OR_RETURN(const std::string fit, f.Str("fit_seconds"));
    ASSIGN_OR_RETURN(m.fit_seconds, f.Double(fit, "fit_seconds"));
    if (!(m.fit_seconds >= 0)) return f.Bad("fit_seconds", fit);
  }
  if (f.all().count("target")) {
    ASSIGN_OR_RETURN(m.target, f.Str("target"));
  }
  if (m.target != "pixels" && m.target != "features" && m.target != "latent")
    return f.Bad("target", m.target);
  if (m.target != "pixels") RETURN_IF_ERROR(ReadTargetFields(f, text, path, &m));
  if (f.all().count("method")) {
    ASSIGN_OR_RETURN(m.method, f.Str("method"));
  } else {
    m.method = LegacyMethodName(m);
  }
  RETURN_IF_ERROR(ReadEvaluation(f, &m.evaluation));
  RETURN_IF_ERROR(ReadHyperparameters(f, &m));
  return m;
}

}  // namespace v2p::core
