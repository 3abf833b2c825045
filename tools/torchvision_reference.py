#!/usr/bin/env python3
"""Writes torchvision state_dicts and reference outputs that the trainer's backbones must reproduce.

For each architecture (resnet50, inception_v3) it builds torchvision's model with random weights (seeded), gives
its BatchNorm layers running statistics measured on the given photos (train mode, a cumulative average), so that
activations on real photos stay at the scale a trained network has, then writes:

  <arch>.pth                    torch.save(model.state_dict()): what users bring from torchvision
  <arch>.safetensors            the same tensors in the safetensors format
  legacy.pth                    a tiny state_dict in PyTorch's pre-1.6 (non-zip) format, which must be refused clearly
  <arch>-reference.safetensors  'input': BGR pixels 0..255 of the first two photos, float32 [2, 3, H, W] (the
                                trainer's backbone input; resized here by PIL, the C# side reads these pixels);
                                'features': the last feature map torchvision computes for them, [N, C, h, w];
                                'features_f64': the same in float64, free of float32 rounding (a random deep
                                network amplifies it to ~1e-3 here, more than the 1e-4 the port must meet);
                                'logits': torchvision's own model(x) output, as a check of the feature path

The preprocessing here is the one the trainer puts inside its backbones (see trainer/Models/TorchvisionBackbones.cs):
BGR -> RGB, /255, then ImageNet mean/std for resnet50, and (x - 0.5) / 0.5 for inception_v3 (what torchvision's
transform_input=True does to ImageNet-normalised input for its published Inception weights).

Usage: python3 tools/torchvision_reference.py OUT_DIR PHOTO PHOTO [PHOTO ...]
       (Debian: apt-get install python3-torch python3-torchvision)
"""
import json
import struct
import sys
from pathlib import Path

import torch
import torchvision
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

ARCHITECTURES = {
    # name: (constructor, input size, RGB mean, RGB std, feature layers in forward order)
    "resnet50": (
        lambda: torchvision.models.resnet50(),
        224, IMAGENET_MEAN, IMAGENET_STD,
        ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"],
    ),
    "inception_v3": (
        lambda: torchvision.models.inception_v3(aux_logits=True, transform_input=False, init_weights=True),
        299, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5),
        ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3", "maxpool2",
         "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
         "Mixed_7a", "Mixed_7b", "Mixed_7c"],
    ),
}

SAFETENSORS_DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}


def save_safetensors(tensors, path):
    """The safetensors layout: u64 little-endian header size, JSON header, then the raw little-endian tensors."""
    header, blobs, offset = {}, [], 0
    for name, tensor in tensors.items():
        data = tensor.detach().contiguous().cpu().numpy().tobytes()
        header[name] = {"dtype": SAFETENSORS_DTYPES[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for blob in blobs:
            f.write(blob)


def normalise(bgr, mean, std):
    rgb = bgr.flip(1) / 255.0
    return (rgb - torch.tensor(mean, dtype=bgr.dtype).view(1, 3, 1, 1)) / torch.tensor(std, dtype=bgr.dtype).view(1, 3, 1, 1)


def load_bgr(paths, size):
    """Photos as BGR float pixels 0..255, [N, 3, size, size]: centre square, bilinear resize."""
    images = []
    for path in paths:
        with Image.open(path) as image:
            rgb = image.convert("RGB")
            side = min(rgb.size)
            left, top = (rgb.width - side) // 2, (rgb.height - side) // 2
            rgb = rgb.crop((left, top, left + side, top + side)).resize((size, size), Image.BILINEAR)
            pixels = torch.frombuffer(bytearray(rgb.tobytes()), dtype=torch.uint8).view(size, size, 3)
            images.append(pixels.permute(2, 0, 1).flip(0).float())
    return torch.stack(images)


def main(out_dir, photos):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.save({"conv1.weight": torch.zeros(1)}, out / "legacy.pth", _use_new_zipfile_serialization=False)
    for name, (build, size, mean, std, layers) in ARCHITECTURES.items():
        torch.manual_seed(0)
        model = build()
        calibration = load_bgr(photos, size)

        # Realistic BatchNorm statistics: a cumulative average over a few batches of random images in train mode.
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.momentum = None
        model.train()
        with torch.no_grad():
            for batch in calibration.split(4):
                model(normalise(batch, mean, std))
        model.eval()

        pixels = calibration[:2].contiguous()
        with torch.no_grad():
            x = normalise(pixels, mean, std)
            logits = model(x)
            features = x
            for layer in layers:
                features = getattr(model, layer)(features)
            pooled = torch.flatten(model.avgpool(features), 1)
            check = model.fc(pooled)
        if not torch.allclose(check, logits, atol=1e-5):
            raise SystemExit(f"{name}: the feature path does not reproduce torchvision's forward")

        state = model.state_dict()
        with torch.no_grad():
            features64 = normalise(pixels.double(), mean, std)
            model64 = build()
            model64.load_state_dict(state)
            model64.double().eval()
            for layer in layers:
                features64 = getattr(model64, layer)(features64)
        torch.save(state, out / f"{name}.pth")
        save_safetensors(state, out / f"{name}.safetensors")
        save_safetensors({"input": pixels, "features": features, "features_f64": features64, "logits": logits}, out / f"{name}-reference.safetensors")
        print(f"{name}: {len(state)} tensors, input {list(pixels.shape)}, features {list(features.shape)}, "
              f"|features| max {features.abs().max().item():.3f}, float32 vs float64 "
              f"{(features.double() - features64).abs().max().item():.2e}")


if __name__ == "__main__":
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2:])
