// `v2p gan evaluate`: the GAN decoders in their papers' terms, as tables
// with contact sheets, for
//   DAND: Güçlütürk Y, Güçlü U, Seeliger K, Bosch S, van Lier R, van Gerven
//     MAJ (2017). Reconstructing perceived faces from brain activations with
//     deep adversarial neural decoding. NeurIPS 2017 (Table 2: feature
//     similarity, PCC and SSIM of DAND, the eigenface baseline and the
//     identity transform, i.e. decoding pixels).
//   HYPER: Dado T, Güçlütürk Y, Ambrogioni L, Ras G, Bosch S, van Gerven M,
//     Güçlü U (2022). Hyperrealistic neural decoding for reconstructing
//     faces from fMRI activations via the GAN latent space. Sci Rep 12:141
//     (Table 1: latent similarity, feature similarity, SSIM after resizing
//     to a common size and Gaussian smoothing; permutation tests against
//     random latents).
// Three experiments: digit69 (real fMRI, first), and two simulated face
// experiments on the Olivetti faces (64x64), stated as simulated: DAND's
// design (real faces, responses simulated from our network's features) and
// HYPER's (faces drawn by a GAN from known latents). Every pipeline is
// trained by the service's trainer in a scratch repository and run as
// served.
#ifndef V2P_EXPERIMENTS_GAN_COMMANDS_H_
#define V2P_EXPERIMENTS_GAN_COMMANDS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace v2p::client {

struct GanEvaluateOptions {
  // Holds the feature network and the digit69 GAN (`v2p generators train
  // --kind GAN`); nothing is written to it.
  std::string repo;
  std::string network = "alexnet28";
  std::string gan = "digit69_GAN";
  std::string data_root = "../shared/data";
  std::string out_dir;   // gan_tables.md and the contact sheets
  std::string command;   // as typed, recorded in the tables
  int epochs = 20;       // DAND's paired GAN on digit69
  int face_epochs = 60;  // the face GANs (64x64, 720 images: 12 batches an epoch)
  int permutations = 200;
  bool faces = true;  // the simulated face experiments
  uint64_t seed = 1;
};

absl::Status RunGanEvaluate(const GanEvaluateOptions& options);

}  // namespace v2p::client

#endif  // V2P_EXPERIMENTS_GAN_COMMANDS_H_
