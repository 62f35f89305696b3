#include "client/report_html.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "core/base/status_macros.h"
#include "core/evaluation/identification.h"
#include "core/evaluation/metrics.h"

namespace v2p::client {
namespace {

constexpr char kStyle[] = R"(<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2em; } .meta { color: #555; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f4f4f4; } td.id { text-align: left; font-family: monospace; }
td.img { text-align: center; padding: 2px; }
img.px { image-rendering: pixelated; } .sheet { max-width: 100%; }
.timings { display: flex; flex-wrap: wrap; gap: 1em; } figure { margin: 0; }
figcaption { font-size: 0.85em; color: #444; } .bar { fill: #4a7bb7; }
</style>)";

// After every image has loaded, the page records how many did (a browser
// test reads it back); nothing is logged.
constexpr char kLoadCheck[] = R"(<script>
window.addEventListener("load", function () {
  var images = document.images, loaded = 0;
  for (var i = 0; i < images.length; ++i)
    if (images[i].complete && images[i].naturalWidth > 0) ++loaded;
  document.body.setAttribute("data-images-total", String(images.length));
  document.body.setAttribute("data-images-loaded", String(loaded));
});
</script>)";

// An inlined PNG; `width` 0 keeps its own.
std::string Img(const std::string& png, const std::string& alt, int width,
                const std::string& cls = "px") {
  return absl::StrCat("<img class=\"", cls, "\"",
                      width > 0 ? absl::StrCat(" width=\"", width, "\"") : "", " alt=\"",
                      HtmlEscape(alt), "\" src=\"data:image/png;base64,", absl::Base64Escape(png),
                      "\">");
}

std::string MeanSd(double mean, double sd) {
  return absl::StrFormat("%.3f &plusmn; %.3f", mean, sd);
}

std::string ScoreRow(const std::string& name, const core::ImageScores& s) {
  return absl::StrCat("<tr><th>", name, "</th><td>", MeanSd(s.pcc, s.pcc_sd), "</td><td>",
                      MeanSd(s.ssim, s.ssim_sd), "</td><td>", MeanSd(s.mse, s.mse_sd), "</td><td>",
                      absl::StrFormat("%.3f", s.identification_pcc), "</td><td>",
                      absl::StrFormat("%.3f", s.identification_ssim), "</td></tr>\n");
}

std::string ScoresTable(const ReportInputs& in) {
  std::string html =
      "<h2>Scores</h2>\n<table id=\"metrics\"><tr><th></th><th>PCC</th><th>SSIM</th>"
      "<th>MSE</th><th>identification (PCC)</th><th>identification (SSIM)</th></tr>\n";
  absl::StrAppend(&html, ScoreRow("reconstruction", in.metrics.scores));
  if (in.metrics.has_baseline)
    absl::StrAppend(&html, ScoreRow("mean training image", in.metrics.baseline));
  absl::StrAppend(&html, "</table>\n<p class=\"meta\">Mean &plusmn; SD over ",
                  in.metrics.scores.num_samples,
                  " trials. Identification: the fraction of other stimuli a reconstruction is "
                  "more similar to its own stimulus than to (chance 0.5). SSIM: ",
                  HtmlEscape(in.metrics.ssim_definition), ".</p>\n");
  return html;
}

// One row per trial: its stimulus and reconstruction, PCC, SSIM and
// identification by PCC.
absl::StatusOr<std::string> TrialTable(const ReportInputs& in) {
  const Eigen::Index n = in.recon.rows();
  const Eigen::MatrixXd recon = in.recon.cast<double>(), stimuli = in.stimuli.cast<double>();
  Eigen::MatrixXd similarity(n, n);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < n; ++j)
      similarity(i, j) = core::PixelPcc(recon.row(i).transpose(), stimuli.row(j).transpose());
  const Eigen::VectorXd identification = core::IdentificationPerItem(similarity);
  const int scale = std::max(1, 84 / std::max(1, in.shape.width));
  const int width = in.shape.width * scale;
  std::string html =
      "<h2>Per trial</h2>\n<table id=\"per-trial\"><tr><th>trial</th><th>stimulus</th>"
      "<th>reconstruction</th><th>PCC</th><th>SSIM</th><th>identification</th></tr>\n";
  for (Eigen::Index i = 0; i < n; ++i) {
    // Rows of a column-major matrix are not contiguous: copied first.
    const Eigen::RowVectorXf stimulus = in.stimuli.row(i), reconstruction = in.recon.row(i);
    ASSIGN_OR_RETURN(const std::string seen, core::EncodePng(stimulus.data(), in.shape, scale));
    ASSIGN_OR_RETURN(const std::string made,
                     core::EncodePng(reconstruction.data(), in.shape, scale));
    ASSIGN_OR_RETURN(const double ssim,
                     core::Ssim(recon.row(i).transpose(), stimuli.row(i).transpose(), in.shape,
                                core::SsimOptionsFor(in.shape)));
    const std::string& id = in.ids[static_cast<size_t>(i)];
    absl::StrAppend(&html, "<tr><td class=\"id\">", HtmlEscape(id), "</td><td class=\"img\">",
                    Img(seen, id + " stimulus", width), "</td><td class=\"img\">",
                    Img(made, id + " reconstruction", width), "</td><td>",
                    absl::StrFormat("%.3f", similarity(i, i)), "</td><td>",
                    absl::StrFormat("%.3f", ssim), "</td><td>",
                    absl::StrFormat("%.2f", identification(i)), "</td></tr>\n");
  }
  return html + "</table>\n";
}

// A histogram of one stage's times over the trials, as inline SVG.
std::string Histogram(const std::string& stage, const std::vector<absl::Duration>& times) {
  std::vector<double> ms;
  for (absl::Duration d : times) ms.push_back(absl::ToDoubleMilliseconds(d));
  const double most = ms.empty() ? 0 : *std::max_element(ms.begin(), ms.end());
  constexpr int kBins = 12, kWidth = 240, kHeight = 70;
  std::vector<int> counts(kBins, 0);
  for (double v : ms) {
    const int bin = most > 0 ? std::min(kBins - 1, static_cast<int>(v / most * kBins)) : 0;
    ++counts[bin];
  }
  const int tallest = std::max(1, *std::max_element(counts.begin(), counts.end()));
  std::string svg =
      absl::StrFormat("<figure><svg width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"%s\">",
                      kWidth, kHeight + 14, HtmlEscape(stage));
  for (int b = 0; b < kBins; ++b) {
    const double h = static_cast<double>(counts[b]) / tallest * kHeight;
    absl::StrAppendFormat(&svg,
                          "<rect class=\"bar\" x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\">"
                          "<title>%d trials</title></rect>",
                          b * kWidth / kBins, kHeight - h, kWidth / kBins - 2, h, counts[b]);
  }
  absl::StrAppendFormat(&svg,
                        "<text x=\"0\" y=\"%d\" font-size=\"11\">0</text>"
                        "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%.3g ms"
                        "</text></svg>",
                        kHeight + 12, kWidth, kHeight + 12, most);
  const Percentiles p = Summarize(times);
  absl::StrAppendFormat(&svg, "<figcaption>%s: median %.3f ms, p90 %.3f ms</figcaption></figure>",
                        HtmlEscape(stage), p.median_ms, p.p90_ms);
  return svg;
}

std::string TimingsSection(const StageSamples& timings) {
  std::string html =
      "<h2>Time per stage</h2>\n<p class=\"meta\">Per trial, as the worker measured each stage "
      "(queue to encode, and total) and as this client measured its round trip.</p>\n"
      "<div class=\"timings\" id=\"timings\">";
  for (const auto& [stage, times] : timings) {
    const bool all_zero = std::all_of(times.begin(), times.end(),
                                      [](absl::Duration d) { return d == absl::ZeroDuration(); });
    if (!times.empty() && !all_zero) absl::StrAppend(&html, Histogram(stage, times));
  }
  return html + "</div>\n";
}

std::string SdSection(const ReportInputs& in) {
  if (in.sd_pngs.empty()) return "";
  std::string html =
      "<h2>Uncertainty</h2>\n<p class=\"meta\">Per-pixel SD of the generator's draws for each "
      "trial (white: 0.5 or more).</p>\n<div id=\"sd-maps\">";
  const int width = in.shape.width * std::max(1, 84 / std::max(1, in.shape.width));
  for (size_t i = 0; i < in.sd_pngs.size(); ++i)
    absl::StrAppend(&html, Img(in.sd_pngs[i], in.ids[i] + " SD", width), " ");
  return html + "</div>\n";
}

}  // namespace

std::string HtmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

absl::StatusOr<std::string> ReportHtml(const ReportInputs& in) {
  const Eigen::Index n = in.recon.rows();
  if (n == 0 || in.stimuli.rows() != n || static_cast<Eigen::Index>(in.ids.size()) != n ||
      in.recon.cols() != in.shape.num_pixels() || in.stimuli.cols() != in.shape.num_pixels() ||
      (!in.sd_pngs.empty() && static_cast<Eigen::Index>(in.sd_pngs.size()) != n))
    return absl::InvalidArgumentError(absl::StrCat(
        "report of ", n, " reconstructions with ", in.stimuli.rows(), " stimuli, ", in.ids.size(),
        " ids and ", in.sd_pngs.size(), " SD maps of ", in.shape.num_pixels(), " pixels"));
  const std::string title = absl::StrCat(in.model, " version ", in.version);
  std::string html = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>voxel2pixel: ",
      HtmlEscape(title), "</title>\n", kStyle, "</head>\n<body>\n<h1>", HtmlEscape(title),
      "</h1>\n<p class=\"meta\">", HtmlEscape(in.description), "; trained on ",
      HtmlEscape(in.dataset), ". Betas: ", HtmlEscape(in.source), ", ", n, " trials. Written ",
      absl::FormatTime("%Y-%m-%d %H:%M UTC", absl::Now(), absl::UTCTimeZone()), ".</p>\n");
  absl::StrAppend(&html,
                  "<h2>Contact sheet</h2>\n<p class=\"meta\">Stimuli (top) above "
                  "reconstructions.</p>\n",
                  Img(in.contact_sheet_png, "contact sheet", 0, "px sheet"), "\n", ScoresTable(in));
  ASSIGN_OR_RETURN(const std::string trials, TrialTable(in));
  absl::StrAppend(&html, trials, TimingsSection(in.timings), SdSection(in), kLoadCheck,
                  "\n</body></html>\n");
  return html;
}

}  // namespace v2p::client
