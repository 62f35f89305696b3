#include "spec/dataset_rules.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "proto/client_text.h"

namespace v2p::spec {
namespace {

namespace v1 = voxel2pixel::v1;

absl::Status Bad(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("dataset description: ", what));
}

bool IsVariableName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 63 && absl::ascii_isalpha(name[0]);
  for (char c : name) ok = ok && (absl::ascii_isalnum(c) || c == '_');
  return ok;
}

// Empty, a MATLAB variable name, or "<source>:<variable>" for a source the
// description names. Counts the plain names (those read from `file`).
absl::Status CheckVariable(const v1::DatasetDescription& d, const std::string& name,
                           const char* field, int* plain) {
  if (name.empty()) return absl::OkStatus();
  const size_t colon = name.find(':');
  if (colon == std::string::npos && IsVariableName(name)) {
    ++*plain;
    return absl::OkStatus();
  }
  if (colon != std::string::npos && IsVariableName(name.substr(colon + 1))) {
    const std::string source = name.substr(0, colon);
    if (d.sources().count(source) > 0) return absl::OkStatus();
    if (IsVariableName(source))
      return Bad(absl::StrCat(field, " '", name, "' names source '", source,
                              "', which `sources` does not hold"));
  }
  return Bad(absl::StrCat(field, " '", ClientText(name),
                          "' is not a MATLAB variable name (a letter, then up to 62 letters, ",
                          "digits or underscores), nor <source>:<such a name>"));
}

absl::Status CheckBounded(const std::string& text, const char* field, size_t max) {
  if (text.size() <= max) return absl::OkStatus();
  return Bad(absl::StrCat(field, " is ", text.size(), " bytes; at most ", max));
}

}  // namespace

absl::Status ValidateDatasetDescription(const v1::DatasetDescription& d) {
  const v1::ImageFormat& image = d.image();
  for (const auto& [side, value] : {std::pair<const char*, int>{"height", image.height()},
                                    std::pair<const char*, int>{"width", image.width()}}) {
    if (value < 1 || value > kMaxImageSide)
      return Bad(absl::StrCat("image.", side, " is ", value, "; give the stimuli's ", side,
                              " in pixels, 1 to ", kMaxImageSide));
  }
  if (image.channels() != 0 && image.channels() != 1 && image.channels() != 3)
    return Bad(absl::StrCat("image.channels is ", image.channels(), "; 1 (grey) or 3 (RGB)"));
  if (image.layout() != v1::IMAGE_LAYOUT_ROW_MAJOR &&
      image.layout() != v1::IMAGE_LAYOUT_COLUMN_MAJOR)
    return Bad("image.layout must be IMAGE_LAYOUT_ROW_MAJOR or IMAGE_LAYOUT_COLUMN_MAJOR");
  if (!(image.pixel_max() >= 0) || !std::isfinite(image.pixel_max()))
    return Bad("image.pixel_max must be > 0 (or left out to infer it)");
  if (d.train().betas().empty()) return Bad("train.betas names no variable");
  if (d.sources_size() > kMaxSources)
    return Bad(absl::StrCat("names ", d.sources_size(), " sources; at most ", kMaxSources));
  for (const auto& [key, source] : d.sources()) {
    if (!IsVariableName(key))
      return Bad(absl::StrCat("source '", ClientText(key),
                              "' is not a name (a letter, then up to 62 letters, digits or "
                              "underscores)"));
    if (source.path().empty()) return Bad(absl::StrCat("source '", key, "' has no path"));
    for (const std::string* text : {&source.path(), &source.mask()})
      if (text->size() > 4096)
        return Bad(absl::StrCat("source '", key, "' has a path over 4096 bytes"));
  }
  int plain = 0;
  for (const auto& [name, field] :
       {std::pair<const std::string&, const char*>{d.train().betas(), "train.betas"},
        {d.train().stimuli(), "train.stimuli"},
        {d.train().labels(), "train.labels"},
        {d.test().betas(), "test.betas"},
        {d.test().stimuli(), "test.stimuli"},
        {d.test().labels(), "test.labels"},
        {d.unpaired_images(), "unpaired_images"},
        {d.test_trials().variable(), "test_trials.variable"}}) {
    if (absl::Status s = CheckVariable(d, name, field, &plain); !s.ok()) return s;
  }
  if (plain > 0 && d.file().empty())
    return Bad("'file' is empty, yet variables without a <source>: prefix are read from it");
  for (const auto& [text, field, max] :
       {std::tuple<const std::string&, const char*, size_t>{d.name(), "name", 256},
        {d.citation(), "citation", 4096},
        {d.file(), "file", 4096},
        {d.test_trials().ranges(), "test_trials.ranges", 4096}}) {
    if (absl::Status s = CheckBounded(text, field, max); !s.ok()) return s;
  }
  if (d.test_trials().values_size() > 100000)
    return Bad(absl::StrCat("test_trials.values holds ", d.test_trials().values_size(),
                            " values; at most 100000"));
  return absl::OkStatus();
}

absl::Status ValidateUploadedDescription(const v1::DatasetDescription& d) {
  // The upload is the file: `file` is whatever the client had it as, or
  // nothing, and the service names the stored copy itself.
  v1::DatasetDescription with_file = d;
  if (with_file.file().empty()) with_file.set_file("uploaded");
  if (absl::Status s = ValidateDatasetDescription(with_file); !s.ok()) return s;
  if (d.sources_size() > 0)
    return Bad(
        "an uploaded dataset is one file, but this description names sources; "
        "`v2p datasets upload` bundles them into one file");
  return absl::OkStatus();
}

}  // namespace v2p::spec
