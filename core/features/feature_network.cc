#include "core/features/feature_network.h"

#include <torch/script.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <numeric>
#include <random>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/base/exceptions.h"
#include "core/base/files.h"
#include "core/base/status_macros.h"
#include "core/data/npy.h"
#include "core/features/feature_network_torch.h"

namespace v2p::core {
namespace {

constexpr char kNetworkFile[] = "network.txt";
constexpr char kWeightsFile[] = "weights.pt";
constexpr char kScriptFile[] = "network.torchscript.pt";

// AlexNet (Krizhevsky et al. 2012) scaled to 28x28 grey input:
// conv1 5x5 -> pool -> conv2 3x3 -> pool -> conv3, conv4, conv5 3x3 -> pool
// -> fc6 -> fc7 -> fc8 (logits), ReLU after every conv and fc6/fc7,
// dropout 0.5 before fc6 and fc7 while training. No local response
// normalisation (it adds nothing at this size).
struct AlexNet28Impl : torch::nn::Module {
  AlexNet28Impl(const std::vector<int64_t>& ch, int64_t fc, int64_t classes) {
    using torch::nn::Conv2dOptions;
    conv1 = register_module("conv1", torch::nn::Conv2d(Conv2dOptions(1, ch[0], 5).padding(2)));
    conv2 = register_module("conv2", torch::nn::Conv2d(Conv2dOptions(ch[0], ch[1], 3).padding(1)));
    conv3 = register_module("conv3", torch::nn::Conv2d(Conv2dOptions(ch[1], ch[2], 3).padding(1)));
    conv4 = register_module("conv4", torch::nn::Conv2d(Conv2dOptions(ch[2], ch[3], 3).padding(1)));
    conv5 = register_module("conv5", torch::nn::Conv2d(Conv2dOptions(ch[3], ch[4], 3).padding(1)));
    fc6 = register_module("fc6", torch::nn::Linear(ch[4] * 3 * 3, fc));
    fc7 = register_module("fc7", torch::nn::Linear(fc, fc));
    fc8 = register_module("fc8", torch::nn::Linear(fc, classes));
  }
  // Runs the network; when `taps` is given, stores each layer's output
  // under its name.
  torch::Tensor forward(torch::Tensor x, std::map<std::string, torch::Tensor>* taps = nullptr) {
    auto tap = [&](const char* name, const torch::Tensor& t) {
      if (taps != nullptr) (*taps)[name] = t;
    };
    x = torch::relu(conv1(x));
    tap("conv1", x);
    x = torch::max_pool2d(x, 2);
    x = torch::relu(conv2(x));
    tap("conv2", x);
    x = torch::max_pool2d(x, 2);
    x = torch::relu(conv3(x));
    tap("conv3", x);
    x = torch::relu(conv4(x));
    tap("conv4", x);
    x = torch::relu(conv5(x));
    tap("conv5", x);
    x = torch::max_pool2d(x, 2).flatten(1);
    x = torch::dropout(x, 0.5, is_training());
    x = torch::relu(fc6(x));
    tap("fc6", x);
    x = torch::dropout(x, 0.5, is_training());
    x = torch::relu(fc7(x));
    tap("fc7", x);
    x = fc8(x);
    tap("fc8", x);
    return x;
  }
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr}, conv4{nullptr}, conv5{nullptr};
  torch::nn::Linear fc6{nullptr}, fc7{nullptr}, fc8{nullptr};
};
TORCH_MODULE(AlexNet28);

torch::Tensor ToInput(const Eigen::MatrixXf& images, int64_t begin, int64_t n, ImageShape shape) {
  // Eigen is column-major: copy rows into a contiguous row-major buffer.
  Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rows =
      images.middleRows(begin, n);
  // Our images are HWC; the network wants CHW.
  return torch::from_blob(rows.data(), {n, shape.height, shape.width, shape.channels},
                          torch::kFloat32)
      .permute({0, 3, 1, 2})
      .clone(at::MemoryFormat::Contiguous);  // owns its memory: `rows` dies
}

std::string ShapeText(const std::vector<int64_t>& shape) { return absl::StrJoin(shape, "x"); }

}  // namespace

struct FeatureNetwork::Impl {
  std::string architecture;
  ImageShape input;
  std::vector<FeatureLayerInfo> layers;
  std::vector<std::string> class_names;
  // alexnet28
  std::vector<int64_t> conv_channels;
  int64_t fc_units = 0;
  mutable AlexNet28 net{nullptr};
  // torchscript
  mutable torch::jit::Module script;
  std::string script_bytes;
  // DifferentiableLayer() freezes the parameters once.
  mutable std::once_flag frozen;

  // Outputs of the requested layers for one batch (eval mode, no grad).
  std::map<std::string, torch::Tensor> Run(const torch::Tensor& x,
                                           const std::vector<std::string>& wanted) const {
    std::map<std::string, torch::Tensor> out;
    if (architecture == "alexnet28") {
      std::map<std::string, torch::Tensor> taps;
      net->forward(x, &taps);
      for (const auto& name : wanted) out[name] = taps.at(name);
      return out;
    }
    torch::Tensor h = x;
    for (auto child : script.named_children()) {
      h = child.value.forward({h}).toTensor();
      if (std::find(wanted.begin(), wanted.end(), child.name) != wanted.end()) out[child.name] = h;
    }
    return out;
  }

  // Fills `layers` by running a blank image through every layer.
  void DescribeLayers(const std::vector<std::string>& names) {
    torch::NoGradGuard no_grad;
    auto outs = Run(torch::zeros({1, input.channels, input.height, input.width}), names);
    layers.clear();
    for (const auto& name : names) {
      FeatureLayerInfo info{name, {}, 1};
      const auto sizes = outs.at(name).sizes();
      for (size_t d = 1; d < sizes.size(); ++d) {
        info.shape.push_back(sizes[d]);
        info.size *= sizes[d];
      }
      layers.push_back(info);
    }
  }
};

FeatureNetwork::FeatureNetwork(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FeatureNetwork::~FeatureNetwork() = default;

const std::string& FeatureNetwork::architecture() const { return impl_->architecture; }
ImageShape FeatureNetwork::input_shape() const { return impl_->input; }
const std::vector<FeatureLayerInfo>& FeatureNetwork::layers() const { return impl_->layers; }
const std::vector<std::string>& FeatureNetwork::class_names() const { return impl_->class_names; }

absl::StatusOr<FeatureLayerInfo> FeatureNetwork::Layer(const std::string& name) const {
  std::vector<std::string> known;
  for (const auto& l : impl_->layers) {
    if (l.name == name) return l;
    known.push_back(l.name);
  }
  return absl::InvalidArgumentError(absl::StrCat("feature network has no layer '", name,
                                                 "'; layers: ", absl::StrJoin(known, ", ")));
}

absl::StatusOr<std::unique_ptr<FeatureNetwork>> FeatureNetwork::Train(
    const LabeledImages& train, const FeatureNetworkTrainOptions& options) {
  return GuardedCall(
      "feature network training", [&]() -> absl::StatusOr<std::unique_ptr<FeatureNetwork>> {
        if (train.size() == 0 || train.shape.height != 28 || train.shape.width != 28 ||
            train.shape.channels != 1)
          return absl::InvalidArgumentError(
              "the AlexNet-style network trains on a non-empty set of 28x28 grey "
              "images");
        if (options.conv_channels.size() != 5 || options.fc_units <= 0 || options.epochs <= 0 ||
            options.batch_size <= 0)
          return absl::InvalidArgumentError(
              "need 5 conv widths, fc_units > 0, epochs > 0 and batch_size > 0");
        torch::manual_seed(options.seed);
        auto impl = std::make_unique<Impl>();
        impl->architecture = "alexnet28";
        impl->input = train.shape;
        impl->class_names = train.class_names;
        impl->conv_channels = options.conv_channels;
        impl->fc_units = options.fc_units;
        impl->net = AlexNet28(options.conv_channels, options.fc_units, train.num_classes);
        torch::optim::Adam opt(
            impl->net->parameters(),
            torch::optim::AdamOptions(options.learning_rate).weight_decay(options.weight_decay));
        const torch::Tensor all = ToInput(train.images, 0, train.size(), train.shape);
        const torch::Tensor labels = torch::tensor(
            std::vector<int64_t>(train.labels.begin(), train.labels.end()), torch::kInt64);
        std::mt19937_64 rng(options.seed);
        std::vector<int64_t> order(train.size());
        const int64_t batches = (train.size() + options.batch_size - 1) / options.batch_size;
        impl->net->train();
        for (int epoch = 0; epoch < options.epochs; ++epoch) {
          std::iota(order.begin(), order.end(), 0);
          std::shuffle(order.begin(), order.end(), rng);
          const torch::Tensor perm = torch::tensor(order, torch::kInt64);
          double running = 0;
          int64_t counted = 0;
          for (int64_t b = 0; b < batches; ++b) {
            if (options.is_cancelled && options.is_cancelled())
              return absl::CancelledError("feature network training cancelled");
            const int64_t begin = b * options.batch_size;
            const int64_t end = std::min<int64_t>(begin + options.batch_size, train.size());
            const torch::Tensor idx = perm.slice(0, begin, end);
            opt.zero_grad();
            const torch::Tensor loss = torch::nn::functional::cross_entropy(
                impl->net->forward(all.index_select(0, idx)), labels.index_select(0, idx));
            loss.backward();
            opt.step();
            running += loss.item<double>();
            ++counted;
            if (options.on_progress &&
                ((b + 1) % options.progress_every == 0 || b + 1 == batches)) {
              options.on_progress(epoch, b + 1, batches, running / counted);
              running = 0;
              counted = 0;
            }
          }
        }
        impl->net->eval();
        impl->DescribeLayers({"conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"});
        return std::unique_ptr<FeatureNetwork>(new FeatureNetwork(std::move(impl)));
      });
}

absl::StatusOr<std::unique_ptr<FeatureNetwork>> FeatureNetwork::LoadTorchScript(
    const std::string& path, ImageShape input, const std::vector<std::string>& layers) {
  auto impl = std::make_unique<Impl>();
  impl->architecture = "torchscript";
  impl->input = input;
  if (input.num_pixels() <= 0) return absl::InvalidArgumentError("input shape must be positive");
  ASSIGN_OR_RETURN(impl->script_bytes, ReadFile(path));
  try {
    std::istringstream in(impl->script_bytes);
    impl->script = torch::jit::load(in);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not a TorchScript file: ", std::string(e.what()).substr(0, 300)));
  }
  impl->script.eval();
  std::vector<std::string> children;
  for (const auto& c : impl->script.named_children()) children.push_back(c.name);
  if (layers.empty())
    return absl::InvalidArgumentError(absl::StrCat("name at least one layer; children of ", path,
                                                   ": ", absl::StrJoin(children, ", ")));
  for (const auto& l : layers) {
    if (std::find(children.begin(), children.end(), l) == children.end())
      return absl::InvalidArgumentError(
          absl::StrCat(path, " has no child '", l, "'; children: ", absl::StrJoin(children, ", ")));
  }
  try {
    impl->DescribeLayers(layers);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("running ", path, " on a blank ", input.height, "x", input.width, "x",
                     input.channels, " image failed: ", std::string(e.what()).substr(0, 300)));
  }
  return std::unique_ptr<FeatureNetwork>(new FeatureNetwork(std::move(impl)));
}

absl::StatusOr<Eigen::MatrixXf> FeatureNetwork::ExtractConcatenated(
    const Eigen::MatrixXf& images, const std::vector<std::string>& layer_names) const {
  ASSIGN_OR_RETURN(auto feats, Extract(images, layer_names));
  Eigen::Index total = 0;
  for (const auto& l : layer_names) total += feats[l].cols();
  Eigen::MatrixXf out(images.rows(), total);
  Eigen::Index at = 0;
  for (const auto& l : layer_names) {
    out.middleCols(at, feats[l].cols()) = feats[l];
    at += feats[l].cols();
  }
  return out;
}

absl::StatusOr<Eigen::MatrixXf> FeatureNetwork::ExtractConcatenated(
    const Eigen::MatrixXf& images, ImageShape shape,
    const std::vector<std::string>& layer_names) const {
  if (shape == impl_->input) return ExtractConcatenated(images, layer_names);
  if (shape.channels != impl_->input.channels)
    return absl::InvalidArgumentError(absl::StrCat("feature network takes ", impl_->input.channels,
                                                   "-channel images, received ", shape.channels,
                                                   "-channel ones"));
  ASSIGN_OR_RETURN(const Eigen::MatrixXf resized, ResizeImages(images, shape, impl_->input));
  return ExtractConcatenated(resized, layer_names);
}

namespace internal {

absl::StatusOr<std::map<std::string, torch::Tensor>> DifferentiableLayers(
    const FeatureNetwork& network, const torch::Tensor& x, ImageShape shape,
    const std::vector<std::string>& layers) {
  for (const std::string& layer : layers) RETURN_IF_ERROR(network.Layer(layer).status());
  const FeatureNetwork::Impl& m = network.impl();
  if (shape.channels != m.input.channels || x.dim() != 2 || x.size(1) != shape.num_pixels())
    return absl::InvalidArgumentError(
        absl::StrCat("feature loss: ", shape.height, "x", shape.width, "x", shape.channels,
                     " images do not fit a network taking ", m.input.channels, "-channel input"));
  std::call_once(m.frozen, [&m] {
    auto params =
        m.architecture == "alexnet28" ? m.net->parameters() : std::vector<torch::Tensor>();
    if (m.architecture != "alexnet28")
      for (const auto& p : m.script.parameters()) params.push_back(p);
    for (auto& p : params) p.requires_grad_(false);
  });
  torch::Tensor nchw =
      x.reshape({x.size(0), shape.height, shape.width, shape.channels}).permute({0, 3, 1, 2});
  if (shape.height != m.input.height || shape.width != m.input.width)
    nchw = shape.height >= m.input.height && shape.width >= m.input.width
               ? torch::adaptive_avg_pool2d(nchw, {m.input.height, m.input.width})
               : torch::upsample_bilinear2d(nchw, {m.input.height, m.input.width}, false);
  std::map<std::string, torch::Tensor> out = m.Run(nchw.contiguous(), layers);
  for (auto& [name, t] : out) t = t.flatten(1);
  return out;
}

absl::StatusOr<torch::Tensor> DifferentiableLayer(const FeatureNetwork& network,
                                                  const torch::Tensor& x, ImageShape shape,
                                                  const std::string& layer) {
  ASSIGN_OR_RETURN(auto out, DifferentiableLayers(network, x, shape, {layer}));
  return out.at(layer);
}

}  // namespace internal

absl::StatusOr<std::map<std::string, Eigen::MatrixXf>> FeatureNetwork::Extract(
    const Eigen::MatrixXf& images, const std::vector<std::string>& layer_names,
    int batch_size) const {
  return GuardedCall(
      "feature extraction", [&]() -> absl::StatusOr<std::map<std::string, Eigen::MatrixXf>> {
        if (images.cols() != impl_->input.num_pixels())
          return absl::InvalidArgumentError(absl::StrCat("feature network expects images of ",
                                                         impl_->input.num_pixels(),
                                                         " pixels, received ", images.cols()));
        std::map<std::string, Eigen::MatrixXf> out;
        for (const auto& name : layer_names) {
          ASSIGN_OR_RETURN(const FeatureLayerInfo info, Layer(name));
          out[name].resize(images.rows(), info.size);
        }
        torch::NoGradGuard no_grad;
        for (int64_t begin = 0; begin < images.rows(); begin += batch_size) {
          const int64_t n = std::min<int64_t>(batch_size, images.rows() - begin);
          auto outs = impl_->Run(ToInput(images, begin, n, impl_->input), layer_names);
          for (const auto& name : layer_names) {
            const torch::Tensor t = outs.at(name).reshape({n, -1}).contiguous();
            out[name].middleRows(begin, n) = Eigen::Map<
                const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
                t.data_ptr<float>(), n, t.size(1));
          }
        }
        return out;
      });
}

absl::StatusOr<std::vector<int>> FeatureNetwork::Classify(const Eigen::MatrixXf& images) const {
  return GuardedCall("classification", [&]() -> absl::StatusOr<std::vector<int>> {
    const std::string last = impl_->layers.back().name;
    ASSIGN_OR_RETURN(auto outs, Extract(images, {last}));
    std::vector<int> predicted(images.rows());
    const Eigen::MatrixXf& logits = outs[last];
    for (int i = 0; i < logits.rows(); ++i) logits.row(i).maxCoeff(&predicted[i]);
    return predicted;
  });
}

absl::StatusOr<double> FeatureNetwork::Accuracy(const LabeledImages& set, int first_class,
                                                int end_class) const {
  if (end_class < 0) end_class = set.num_classes;
  ASSIGN_OR_RETURN(const std::vector<int> predicted, Classify(set.images));
  int64_t total = 0, correct = 0;
  for (int i = 0; i < set.size(); ++i) {
    if (set.labels[i] < first_class || set.labels[i] >= end_class) continue;
    ++total;
    correct += predicted[i] == set.labels[i];
  }
  if (total == 0) return absl::InvalidArgumentError("no images of the requested classes");
  return static_cast<double>(correct) / total;
}

double ShenFeatureStd(const Eigen::Ref<const Eigen::VectorXd>& a,
                      const std::vector<int64_t>& shape) {
  auto sd = [](const Eigen::Ref<const Eigen::VectorXd>& v) {
    return v.size() == 0 ? 0.0 : std::sqrt((v.array() - v.mean()).square().mean());
  };
  if (shape.size() != 3 || shape[1] * shape[2] == 1) return sd(a);
  const Eigen::Index per_channel = shape[1] * shape[2];
  double sum = 0;
  for (int64_t c = 0; c < shape[0]; ++c) sum += sd(a.segment(c * per_channel, per_channel));
  return sum / static_cast<double>(shape[0]);
}

absl::Status FeatureNetwork::ComputeStatistics(const Eigen::MatrixXf& images) {
  return GuardedCall("feature statistics", [&]() -> absl::Status {
    std::vector<std::string> names;
    for (const auto& l : impl_->layers) names.push_back(l.name);
    ASSIGN_OR_RETURN(auto feats, Extract(images, names));
    for (const auto& layer : impl_->layers) {
      const std::string& name = layer.name;
      const Eigen::MatrixXd f = feats[name].cast<double>();
      LayerStatistics s;
      s.num_images = static_cast<int>(f.rows());
      const Eigen::RowVectorXd mean = f.colwise().mean();
      s.mean = mean.cast<float>();
      s.sd = ((f.rowwise() - mean).array().square().colwise().mean().sqrt()).matrix().cast<float>();
      const Eigen::VectorXd norms = f.rowwise().norm();
      s.norm_mean = norms.mean();
      s.norm_sd = std::sqrt((norms.array() - s.norm_mean).square().mean());
      Eigen::VectorXd psi(f.rows());
      for (Eigen::Index i = 0; i < f.rows(); ++i)
        psi(i) = ShenFeatureStd(f.row(i).transpose(), layer.shape);
      s.psi_mean = psi.mean();
      s.psi_sd = std::sqrt((psi.array() - s.psi_mean).square().mean());
      s.has_psi = true;
      stats_[name] = std::move(s);
    }
    return absl::OkStatus();
  });
}

const LayerStatistics* FeatureNetwork::statistics(const std::string& layer) const {
  auto it = stats_.find(layer);
  return it == stats_.end() ? nullptr : &it->second;
}

absl::Status FeatureNetwork::Save(const std::string& dir) const {
  std::string text = absl::StrCat("format: 1\narchitecture: ", impl_->architecture,
                                  "\ninput: ", impl_->input.height, "x", impl_->input.width, "x",
                                  impl_->input.channels, "\n");
  std::vector<std::string> layer_names;
  for (const auto& l : impl_->layers) {
    layer_names.push_back(l.name);
    absl::StrAppend(&text, "layer: ", l.name, " ", ShapeText(l.shape), "\n");
  }
  if (impl_->architecture == "alexnet28") {
    absl::StrAppend(&text, "conv_channels: ", absl::StrJoin(impl_->conv_channels, ","),
                    "\nfc_units: ", impl_->fc_units, "\n");
    try {
      torch::save(impl_->net, dir + "/" + kWeightsFile);
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("saving weights: ", e.what()));
    }
  } else {
    RETURN_IF_ERROR(WriteFile(dir + "/" + kScriptFile, impl_->script_bytes));
  }
  for (const auto& c : impl_->class_names) absl::StrAppend(&text, "class: ", c, "\n");
  for (const auto& [k, v] : notes_) absl::StrAppend(&text, "note.", k, ": ", v, "\n");
  for (const auto& [name, s] : stats_) {
    // name, images, L2 norm mean and SD, then psi's (absent before psi).
    absl::StrAppend(&text, "stats: ", name, " ", s.num_images, " ",
                    absl::StrFormat("%.9g %.9g", s.norm_mean, s.norm_sd),
                    s.has_psi ? absl::StrFormat(" %.9g %.9g", s.psi_mean, s.psi_sd) : "", "\n");
    RETURN_IF_ERROR(WriteNpyFloat32(dir + "/stats_" + name + "_mean.npy", s.mean));
    RETURN_IF_ERROR(WriteNpyFloat32(dir + "/stats_" + name + "_sd.npy", s.sd));
  }
  return WriteFile(dir + "/" + kNetworkFile, text);
}

namespace {

// "name images norm_mean norm_sd [psi_mean psi_sd]" (psi absent in
// networks saved before it was stored); false when unreadable.
bool ParseStatsLine(absl::string_view value, std::string* name, LayerStatistics* st) {
  const std::vector<std::string> f = absl::StrSplit(value, ' ');
  if ((f.size() != 4 && f.size() != 6) || !absl::SimpleAtoi(f[1], &st->num_images) ||
      !absl::SimpleAtod(f[2], &st->norm_mean) || !absl::SimpleAtod(f[3], &st->norm_sd))
    return false;
  st->has_psi = f.size() == 6;
  if (st->has_psi &&
      (!absl::SimpleAtod(f[4], &st->psi_mean) || !absl::SimpleAtod(f[5], &st->psi_sd)))
    return false;
  *name = f[0];
  return true;
}

// What network.txt records (arrays of statistics are read separately).
struct NetworkFile {
  std::string architecture;
  ImageShape input;
  std::vector<std::string> layers, classes;
  std::vector<int64_t> channels;
  int64_t fc_units = 0;
  std::map<std::string, std::string> notes;
  std::map<std::string, LayerStatistics> stats;  // scalars
};

absl::StatusOr<NetworkFile> ParseNetworkFile(const std::string& path, const std::string& text) {
  NetworkFile n;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    ++line_no;
    const auto bad = [&] {
      return absl::DataLossError(absl::StrCat(path, ":", line_no, ": cannot read '", line, "'"));
    };
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits(": ", 1));
    const std::string& key = kv.first;
    const std::string& value = kv.second;
    if (key == "architecture") {
      n.architecture = value;
    } else if (key == "input") {
      std::vector<std::string> d = absl::StrSplit(value, 'x');
      if (d.size() != 3 || !absl::SimpleAtoi(d[0], &n.input.height) ||
          !absl::SimpleAtoi(d[1], &n.input.width) || !absl::SimpleAtoi(d[2], &n.input.channels))
        return bad();
    } else if (key == "layer") {
      n.layers.push_back(value.substr(0, value.find(' ')));  // "name CxHxW"
    } else if (key == "conv_channels") {
      for (absl::string_view c : absl::StrSplit(value, ',')) {
        int64_t v;
        if (!absl::SimpleAtoi(c, &v)) return bad();
        n.channels.push_back(v);
      }
    } else if (key == "fc_units") {
      if (!absl::SimpleAtoi(value, &n.fc_units)) return bad();
    } else if (key == "class") {
      n.classes.push_back(value);
    } else if (absl::StartsWith(key, "note.")) {
      n.notes[key.substr(5)] = value;
    } else if (key == "stats") {
      std::string name;
      LayerStatistics st;
      if (!ParseStatsLine(value, &name, &st)) return bad();
      n.stats[name] = std::move(st);
    }
  }
  return n;
}

}  // namespace

absl::StatusOr<std::unique_ptr<FeatureNetwork>> FeatureNetwork::Load(const std::string& dir) {
  const std::string path = dir + "/" + kNetworkFile;
  ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  ASSIGN_OR_RETURN(NetworkFile n, ParseNetworkFile(path, text));
  const std::string& architecture = n.architecture;
  const ImageShape input = n.input;
  const std::vector<std::string>& layers = n.layers;
  const std::vector<std::string>& classes = n.classes;
  const std::vector<int64_t>& channels = n.channels;
  const int64_t fc_units = n.fc_units;
  std::unique_ptr<FeatureNetwork> network;
  if (architecture == "alexnet28") {
    if (channels.size() != 5 || fc_units <= 0 || classes.empty())
      return absl::DataLossError(absl::StrCat(path, ": incomplete alexnet28 description"));
    auto impl = std::make_unique<Impl>();
    impl->architecture = architecture;
    impl->input = input;
    impl->class_names = classes;
    impl->conv_channels = channels;
    impl->fc_units = fc_units;
    impl->net = AlexNet28(channels, fc_units, static_cast<int64_t>(classes.size()));
    try {
      torch::load(impl->net, dir + "/" + kWeightsFile);
    } catch (const std::exception& e) {
      return absl::DataLossError(
          absl::StrCat(dir, "/", kWeightsFile, ": ", std::string(e.what()).substr(0, 300)));
    }
    impl->net->eval();
    impl->DescribeLayers(layers);
    network.reset(new FeatureNetwork(std::move(impl)));
  } else if (architecture == "torchscript") {
    ASSIGN_OR_RETURN(network, LoadTorchScript(dir + "/" + kScriptFile, input, layers));
  } else {
    return absl::DataLossError(absl::StrCat(path, ": unknown architecture '", architecture, "'"));
  }
  network->notes_ = std::move(n.notes);
  for (auto& [name, st] : n.stats) {
    ASSIGN_OR_RETURN(auto mean, ReadNpy(dir + "/stats_" + name + "_mean.npy"));
    ASSIGN_OR_RETURN(auto sd, ReadNpy(dir + "/stats_" + name + "_sd.npy"));
    st.mean = Eigen::Map<const Eigen::RowVectorXd>(mean.values.data(), mean.size()).cast<float>();
    st.sd = Eigen::Map<const Eigen::RowVectorXd>(sd.values.data(), sd.size()).cast<float>();
    network->stats_[name] = std::move(st);
  }
  return network;
}

}  // namespace v2p::core
