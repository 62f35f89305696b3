// The evaluation a person looks at: one self-contained HTML page (images
// inlined as data URIs, no script or style from elsewhere) written by
// `v2p evaluate`. It holds the contact sheet, the metric table beside the
// mean training image, each trial's stimulus and reconstruction with its
// PCC, SSIM and identification, a histogram of each stage's time, and the
// per-pixel SD maps of a stochastic generator when draws were asked for.
// Every string from the server or the command line is HTML-escaped.
#ifndef V2P_CLIENT_REPORT_HTML_H_
#define V2P_CLIENT_REPORT_HTML_H_

#include <string>
#include <vector>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "client/output_files.h"
#include "core/data/image.h"

namespace v2p::client {

struct ReportInputs {
  std::string model;
  int64_t version = 0;
  std::string description;  // the model's pipeline description
  std::string dataset;      // what it was trained on
  std::string source;       // the betas: file and variable
  std::vector<std::string> ids;
  core::ImageShape shape;
  Eigen::MatrixXf stimuli;  // n x pixels, [0, 1]
  Eigen::MatrixXf recon;    // n x pixels, [0, 1]
  MetricsReport metrics;
  StageSamples timings;
  std::string contact_sheet_png;
  std::vector<std::string> sd_pngs;  // per trial when draws were asked for, else empty
};

// The page, or INVALID_ARGUMENT when the inputs disagree in size.
absl::StatusOr<std::string> ReportHtml(const ReportInputs& in);

// `text` with &, <, >, " and ' escaped for HTML text and attributes.
std::string HtmlEscape(const std::string& text);

}  // namespace v2p::client

#endif  // V2P_CLIENT_REPORT_HTML_H_
