#!/usr/bin/env python3
"""The reference side of bench/shen_inversion_bench: Shen et al. (2019)
feature inversion as the authors' icnn code runs it (one image at a time),
in Python PyTorch (Debian python3-torch), on the same TorchScript network
and with the same loss and optimisers as core/methods/shen/feature_inversion.

  shen_inversion_torch.py export WEIGHTS.pt OUT.ts
      Our alexnet28 weights (written by LibTorch's torch::save) as a
      TorchScript nn.Sequential whose children are the layers conv1..fc8
      (each conv/fc child ends in its ReLU, as our layers are tapped), the
      network both sides then run.
  shen_inversion_torch.py run NET.ts STIMULI.npy OPTIMIZER ITERATIONS START THREADS OUT.npy
      Inverts the true features (conv1..fc7) of each row of STIMULI.npy
      (n x 784, [0, 1]) one image at a time with OPTIMIZER (lbfgs or gd)
      for ITERATIONS from START (a pixel value, or a .npy of the 1 x 784
      start image: ours, the mean pixel dithered); writes the images to
      OUT.npy and prints one JSON line: seconds (the optimisation only,
      not start-up or loading), images, iterations.
"""
import json
import sys
import time

import numpy as np
import torch

LAYERS = ['conv1', 'conv2', 'conv3', 'conv4', 'conv5', 'fc6', 'fc7']


def export(weights, out):
    src = dict(torch.jit.load(weights).named_parameters())
    conv = lambda i, o, k: torch.nn.Sequential(torch.nn.Conv2d(i, o, k, padding=k // 2),
                                               torch.nn.ReLU())
    c = [src[f'conv{i}.weight'].shape[0] for i in range(1, 6)]
    fc = src['fc6.weight'].shape[0]
    net = torch.nn.Sequential()
    net.add_module('conv1', conv(1, c[0], 5))
    net.add_module('pool1', torch.nn.MaxPool2d(2))
    net.add_module('conv2', conv(c[0], c[1], 3))
    net.add_module('pool2', torch.nn.MaxPool2d(2))
    net.add_module('conv3', conv(c[1], c[2], 3))
    net.add_module('conv4', conv(c[2], c[3], 3))
    net.add_module('conv5', conv(c[3], c[4], 3))
    net.add_module('pool5', torch.nn.Sequential(torch.nn.MaxPool2d(2), torch.nn.Flatten()))
    net.add_module('fc6', torch.nn.Sequential(torch.nn.Linear(c[4] * 9, fc), torch.nn.ReLU()))
    net.add_module('fc7', torch.nn.Sequential(torch.nn.Linear(fc, fc), torch.nn.ReLU()))
    net.add_module('fc8', torch.nn.Linear(fc, src['fc8.weight'].shape[0]))
    with torch.no_grad():
        for name, p in net.named_parameters():
            layer, kind = name.split('.')[0], name.split('.')[-1]
            p.copy_(src[f'{layer}.{kind}'])
    torch.jit.script(net.eval()).save(out)


def features(net, x):
    """Each layer of LAYERS for images x (n x 784), flattened."""
    h = x.view(x.shape[0], 1, 28, 28)
    out = {}
    for name, child in net.named_children():
        h = child(h)
        if name in LAYERS:
            out[name] = h.flatten(1)
        if name == LAYERS[-1]:
            break
    return out


def invert_one(net, targets, optimizer, iterations, start):
    beta = {l: 1.0 / (y ** 2).sum() for l, y in targets.items()}

    def loss_of(x):
        f = features(net, x)
        return sum(0.5 * beta[l] * ((f[l] - targets[l]) ** 2).sum() for l in LAYERS)

    x = start.clone().requires_grad_(True)
    if optimizer == 'lbfgs':
        opt = torch.optim.LBFGS([x], lr=1, max_iter=1, history_size=100,
                                line_search_fn='strong_wolfe')

        def closure():
            opt.zero_grad()
            loss = loss_of(x)
            loss.backward()
            return loss

        for _ in range(iterations):
            opt.step(closure)
        return x.detach().clamp(0, 1)
    # icnn_gd: gradient / mean |gradient|, momentum 0.9, step 2/255 -> 1e-10.
    lr_start, lr_end = 2.0 / 255, 1e-10
    delta = torch.zeros_like(x)
    img = x.detach()
    for t in range(iterations):
        lr = lr_start + t * (lr_end - lr_start) / iterations
        xi = img.clone().requires_grad_(True)
        loss_of(xi).backward()
        g = xi.grad
        scale = g.abs().mean()
        if scale > 0:
            g = g / scale
        delta = delta * 0.9 + g
        img = (img - lr * delta).clamp(0, 1)
    return img


def run(net_path, stimuli_path, optimizer, iterations, start, threads, out):
    torch.set_num_threads(threads)
    net = torch.jit.load(net_path).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    stimuli = torch.from_numpy(np.load(stimuli_path).astype(np.float32))
    # START: one pixel value, or a .npy of the 1 x 784 start image.
    start = (torch.from_numpy(np.load(start).astype(np.float32)).reshape(1, 784)
             if start.endswith('.npy') else torch.full((1, 784), float(start)))
    with torch.no_grad():
        targets = features(net, stimuli)
    images = []
    began = time.perf_counter()
    for i in range(stimuli.shape[0]):
        one = {l: t[i:i + 1] for l, t in targets.items()}
        images.append(invert_one(net, one, optimizer, iterations, start))
    seconds = time.perf_counter() - began
    np.save(out, torch.cat(images).numpy().astype(np.float64))
    print(json.dumps({'seconds': seconds, 'images': int(stimuli.shape[0]),
                      'iterations': iterations}))


def main():
    if len(sys.argv) == 4 and sys.argv[1] == 'export':
        export(sys.argv[2], sys.argv[3])
        return 0
    if len(sys.argv) == 9 and sys.argv[1] == 'run':
        run(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6],
            int(sys.argv[7]), sys.argv[8])
        return 0
    print(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main())
