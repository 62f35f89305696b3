// Foreground attention with Loop-Enc-Dec ("F-attention", ICLR 2022
// submission; no public code): an attention decoder first decodes from the
// betas where the foreground object lay (a map A), then an image decoder D,
// guided by that map at each stage (F' = lambda * A o F + mu * F), decodes
// the image; D is trained with an fMRI encoder E (image -> betas) frozen:
//   Loss_image:    D(x) and D(E(s)) against the stimulus s (pixel squared
//                  error plus a feature term through the feature network);
//   Loss_loop:     E(D(x)) and E(D(E(s))) against the betas x, with E's
//                  loss 0.85 * MSE - 0.15 * cosine;
//   Loss_unpaired: D(E(u)) against u for unpaired corpus images u.
// The attention decoder is trained against foreground labels of the
// stimuli (attention_labels.h) with the paper's SGDR schedule (linear
// warm-up to 0.03, cosine down to 4e-5, restarts; SGD, momentum 0.9).
//
// Where the paper is silent, ours:
//   - the maps the images of E's betas use (D(E(s)), D(E(u))): A(E(s)),
//     the attention decoder applied to the encoded betas, by default;
//     `loop_uses_labels` gives them the foreground labels of s and u
//     instead;
//   - E's and D's optimiser: Adam, its rate on the same SGDR shape with a
//     1e-3 peak; 0.5 dropout on the betas entering A and D (90 trials);
//   - the feature term: the squared error of a layer of the stored feature
//     network (conv1 by default), divided by its mean square over the
//     stimuli, weighted 0.1 against the pixel term; without a network,
//     pixels only, and E learns its own convolutions.
// The ablations: no attention (lambda = 0, mu = 1), no loop loss
// (loop_weight = 0), neither. Manifest name "fattention".
// Recorded with the model, on the scored (held-out) trials: the maps'
// attention_iou / attention_pcc beside the mean training map's, and E's
// encoder_voxel_r (each voxel's correlation across trials, averaged) and
// encoder_pattern_r (each trial's correlation across voxels).
#ifndef V2P_CORE_METHODS_FATTENTION_FATTENTION_METHOD_H_
#define V2P_CORE_METHODS_FATTENTION_FATTENTION_METHOD_H_

#include <cstdint>
#include <memory>
#include <string>

#include "core/methods/fattention/attention_labels.h"
#include "core/methods/fattention/sgdr.h"
#include "core/methods/registry.h"
#include "core/pipeline/method.h"

namespace v2p::core {

struct FAttentionOptions {
  // A network in <repo>/feature_networks (version 0 = latest), optional:
  // E's frozen input layer and the image loss's feature layer come from it.
  std::string network;
  int64_t network_version = 0;
  std::string encoder_layer = "conv2";
  std::string feature_layer = "conv1";
  double feature_weight = 0.1;
  int channels = 32;  // a multiple of 4
  double lambda = 0.7, mu = 0.3;
  double loop_weight = 1.0;
  double unpaired_weight = 1.0;
  bool loop_uses_labels = false;
  AttentionLabelOptions labels;
  int attention_epochs = 200;
  int encoder_epochs = 60;
  int decoder_epochs = 30;
  int batch_size = 32;
  double learning_rate = 1e-3;      // E's and D's peak (Adam)
  SgdrSchedule attention_schedule;  // the paper's; periods set from the epochs
  uint64_t seed = 1;
  // In a job (TrainHooks::checkpoint_dir): an epoch's checkpoint is saved
  // when this long has passed since the last (and at each stage's end); a
  // resumed job goes on from it (epoch_checkpoints.h).
  double checkpoint_seconds = 30;
};

class FAttentionMethod : public Method {
 public:
  static constexpr char kName[] = "fattention";
  explicit FAttentionMethod(FAttentionOptions options) : options_(std::move(options)) {}

  std::string name() const override { return kName; }
  std::string Describe(ImageShape image) const override;
  absl::StatusOr<FittedMethod> Fit(const FitContext& context) const override;

  static absl::StatusOr<PipelineStages> Load(const std::string& dir, const ModelManifest& m);
  // From a spec's `method { name: "fattention" parameters { ... } }`:
  // every field above by its name (loop_uses_labels and otsu "true" or
  // "false", labels' threshold as label_threshold); INVALID_ARGUMENT for an
  // unknown key or a bad value.
  static absl::StatusOr<std::shared_ptr<const Method>> Create(const MethodParameters& parameters);

  const FAttentionOptions& options() const { return options_; }

 private:
  FAttentionOptions options_;
};

}  // namespace v2p::core

#endif  // V2P_CORE_METHODS_FATTENTION_FATTENTION_METHOD_H_
