// The built-in methods, one registration line each.
#include "core/methods/dand/dand_method.h"
#include "core/methods/fattention/fattention_method.h"
#include "core/methods/features/features_method.h"
#include "core/methods/hyper/hyper_method.h"
#include "core/methods/pixels/pixels_method.h"
#include "core/methods/registry.h"
#include "core/methods/shen/shen_method.h"

namespace v2p::core {

void RegisterBuiltinMethods(MethodRegistry& r) {
  (void)r.Register({PixelsMethod::kName, "ridge to pixels (eigenimages)", PixelsMethod::Load, {}});
  (void)r.Register(
      {FeaturesMethod::kName, "ridge/SMR to CNN features (+ generator)", FeaturesMethod::Load, {}});
  (void)r.Register({HyperMethod::kName, "HYPER: ridge to GAN latents", HyperMethod::Load, {}});
  (void)r.Register(
      {DandMethod::kName, "DAND: MAP to components, paired GAN", DandMethod::Load, {}});
  (void)r.Register({FAttentionMethod::kName, "foreground attention + Loop-Enc-Dec",
                    FAttentionMethod::Load, FAttentionMethod::Create});
  (void)r.Register({ShenMethod::kName, "Shen et al.: ridge to CNN layers, feature inversion",
                    ShenMethod::Load, ShenMethod::Create});
}

}  // namespace v2p::core
