// Feature networks: the CNNs whose hidden layers are the targets of feature
// decoding (Horikawa & Kamitani 2017; Shen et al. 2019; Du et al. 2020).
//
// Two kinds behind one interface:
//  * our own AlexNet-style classifier (5 convolutional layers conv1..conv5,
//    2 fully connected fc6, fc7, ReLU, max pooling; Krizhevsky et al. 2012
//    scaled down to 28x28 grey images), trained here in LibTorch on the
//    shipped corpora because pretrained networks cannot be downloaded;
//  * a lab's own TorchScript network, whose top-level children are run in
//    order (an exported nn.Sequential, or a module whose children are its
//    stages); any child's name is a layer name.
// A layer's features are the output of that layer (after its ReLU for our
// conv and fc layers), flattened in C x H x W order.
//
// LibTorch stays in the .cc: this header is plain Eigen. Immutable after
// Train()/Load(); Extract() is safe to call from several threads.
#ifndef V2P_CORE_FEATURES_FEATURE_NETWORK_H_
#define V2P_CORE_FEATURES_FEATURE_NETWORK_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "Eigen/Core"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/data/image.h"
#include "core/data/image_corpus.h"

namespace v2p::core {

struct FeatureLayerInfo {
  std::string name;
  std::vector<int64_t> shape;  // C, H, W for convolutional layers; units
  int64_t size = 0;            // product of shape
};

// Statistics of one layer over a corpus (the network's own training
// images, never a dataset's stimuli), stored with the network: per-unit
// mean and SD (for standardising decoding targets), the mean and SD of the
// layer's L2 norm, and of Shen et al.'s feature-norm statistic psi
// (ShenFeatureStd), which their norm correction matches decoded features
// to before inverting them:
//   Shen G, Horikawa T, Majima K, Kamitani Y (2019). Deep image
//   reconstruction from human brain activity. PLoS Comput Biol 15(1).
struct LayerStatistics {
  Eigen::RowVectorXf mean;
  Eigen::RowVectorXf sd;
  double norm_mean = 0;
  double norm_sd = 0;
  // psi over the corpus; has_psi is false for networks saved before it
  // was stored (recompute with `v2p features train`).
  double psi_mean = 0;
  double psi_sd = 0;
  bool has_psi = false;
  int num_images = 0;
};

// Shen et al.'s psi of one image's activations of a layer of `shape`
// (C, H, W, channel-major as Extract returns them; or units): for a
// convolutional layer, the SD across the H x W units of each channel,
// averaged over channels; for a fully connected layer (or H = W = 1), the
// SD across units. SDs are population SDs (divided by the count), as numpy's
// np.std in the authors' code.
double ShenFeatureStd(const Eigen::Ref<const Eigen::VectorXd>& activations,
                      const std::vector<int64_t>& shape);

struct FeatureNetworkTrainOptions {
  int epochs = 4;
  int batch_size = 64;
  double learning_rate = 1e-3;  // Adam
  double weight_decay = 1e-4;
  uint64_t seed = 1;
  // Width of conv1..conv5 and of fc6/fc7.
  std::vector<int64_t> conv_channels = {16, 32, 48, 48, 32};
  int64_t fc_units = 256;
  // Called after every `progress_every` batches with the running loss.
  int progress_every = 50;
  std::function<void(int epoch, int64_t batch, int64_t batches, double loss)> on_progress;
  std::function<bool()> is_cancelled;
};

class FeatureNetwork {
 public:
  // Trains our AlexNet-style classifier on `train` (square grey images).
  // CANCELLED when options.is_cancelled fires.
  static absl::StatusOr<std::unique_ptr<FeatureNetwork>> Train(
      const LabeledImages& train, const FeatureNetworkTrainOptions& options);
  // Reads a directory written by Save() (either kind).
  static absl::StatusOr<std::unique_ptr<FeatureNetwork>> Load(const std::string& dir);
  // A lab's TorchScript file: `forward` takes n x C x H x W float images in
  // [0, 1]. `layers` names the children whose outputs are exposed, checked
  // by running one blank image (INVALID_ARGUMENT names the children that
  // exist).
  static absl::StatusOr<std::unique_ptr<FeatureNetwork>> LoadTorchScript(
      const std::string& path, ImageShape input, const std::vector<std::string>& layers);

  ~FeatureNetwork();
  FeatureNetwork(const FeatureNetwork&) = delete;
  FeatureNetwork& operator=(const FeatureNetwork&) = delete;

  // Writes network.txt, the weights (or the TorchScript file) and the
  // statistics into `dir`, which must exist.
  absl::Status Save(const std::string& dir) const;

  // "alexnet28" or "torchscript".
  const std::string& architecture() const;
  ImageShape input_shape() const;
  // Every layer that can be extracted, input to output.
  const std::vector<FeatureLayerInfo>& layers() const;
  absl::StatusOr<FeatureLayerInfo> Layer(const std::string& name) const;
  const std::vector<std::string>& class_names() const;

  // images: n x input_shape().num_pixels() (row-major, [0, 1]). One
  // n x layer-size matrix per requested layer. INVALID_ARGUMENT for an
  // unknown layer (listing the known ones) or a wrong image size.
  absl::StatusOr<std::map<std::string, Eigen::MatrixXf>> Extract(
      const Eigen::MatrixXf& images, const std::vector<std::string>& layer_names,
      int batch_size = 256) const;
  // The same layers side by side, in the order given: n x (sum of their
  // sizes), e.g. the targets of a feature decoder.
  absl::StatusOr<Eigen::MatrixXf> ExtractConcatenated(
      const Eigen::MatrixXf& images, const std::vector<std::string>& layer_names) const;
  // As ExtractConcatenated, for images of `shape` with the network's
  // channel count: each is resized to input_shape() first (area averaging
  // when shrinking), e.g. 64x64 faces through a 28x28 network.
  absl::StatusOr<Eigen::MatrixXf> ExtractConcatenated(
      const Eigen::MatrixXf& images, ImageShape shape,
      const std::vector<std::string>& layer_names) const;
  // Arg-max of the last layer (our classifier's logits).
  absl::StatusOr<std::vector<int>> Classify(const Eigen::MatrixXf& images) const;
  // Fraction of `set` classified correctly, optionally only over classes
  // [first_class, end_class).
  absl::StatusOr<double> Accuracy(const LabeledImages& set, int first_class = 0,
                                  int end_class = -1) const;

  // Fills the statistics of every layer from `images`.
  absl::Status ComputeStatistics(const Eigen::MatrixXf& images);
  // nullptr before ComputeStatistics()/Load() provided them.
  const LayerStatistics* statistics(const std::string& layer) const;

  // Free "key: value" facts kept in network.txt (e.g. test accuracies).
  std::map<std::string, std::string>& notes() { return notes_; }
  const std::map<std::string, std::string>& notes() const { return notes_; }

  struct Impl;
  // For core/features/feature_network_torch.h.
  const Impl& impl() const { return *impl_; }

 private:
  explicit FeatureNetwork(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::map<std::string, LayerStatistics> stats_;
  std::map<std::string, std::string> notes_;
};

}  // namespace v2p::core

#endif  // V2P_CORE_FEATURES_FEATURE_NETWORK_H_
