#!/usr/bin/env python3
"""The PyTorch side of `bench peer`: the trainer's work, done by PyTorch eager on the same photos and the same CPU.

For each backbone it measures, as images per second after two warm-up steps:
  decode    decode + centred square crop + resize of the photos (PIL, one thread per core, as the trainer decodes)
  features  the frozen backbone's forward pass + global average pool, eval, no_grad (the features strategy's extraction)
  frozen    a frozen-strategy training step: forward through the frozen backbone (eval), head forward/backward, SGD
  finetune  a finetune step: forward through the backbone, backward through the last stage and head, SGD

The networks are torchvision's with random weights (speed does not depend on the values). resnet18-imagenet is the
trainer's CNTK ResNet-18, whose last stage has three blocks: torchvision's ResNet(BasicBlock, [2, 2, 2, 3]).
Pixels go in as the trainer's do, float [N, 3, H, W] of 0..255 with the normalisation inside the timed step.

Prints one JSON object per figure on stdout: {"backbone", "figure", "images_per_second", "steps"}.
Usage: python3 tools/peer_benchmark.py --photos DIR [--backbone NAME ...] [--batch 16] [--seconds 6] [--threads 0]
       (Debian: apt-get install python3-torch python3-torchvision)
"""
import argparse
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
import torchvision
from PIL import Image
from torchvision.models.resnet import BasicBlock, ResNet

BACKBONES = {
    # name: (constructor of the feature network, input size, name of the last stage)
    "resnet18-imagenet": (lambda: ResNet(BasicBlock, [2, 2, 2, 3]), 224, "layer4"),
    "resnet50": (lambda: torchvision.models.resnet50(), 224, "layer4"),
    "inception_v3": (lambda: torchvision.models.inception_v3(aux_logits=False, init_weights=False), 299, "Mixed_7c"),
}


class Features(torch.nn.Module):
    """torchvision's network up to its last feature map (its own fc and pooling left out), normalisation inside."""

    def __init__(self, net):
        super().__init__()
        self.net = net
        self.register_buffer("scale", torch.full((1, 3, 1, 1), 1 / 127.5))

    def forward(self, x):
        x = x * self.scale - 1
        n = self.net
        if isinstance(n, torchvision.models.Inception3):
            for name in ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1",
                         "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b",
                         "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"]:
                x = getattr(n, name)(x)
            return x
        x = n.maxpool(n.relu(n.bn1(n.conv1(x))))
        return n.layer4(n.layer3(n.layer2(n.layer1(x))))


class Transfer(torch.nn.Module):
    """Backbone + the study's head: global average pool, dropout 0.2, dense."""

    def __init__(self, backbone, channels, classes=2):
        super().__init__()
        self.backbone = backbone
        self.dropout = torch.nn.Dropout(0.2)
        self.fc = torch.nn.Linear(channels, classes)

    def forward(self, x):
        return self.fc(self.dropout(self.backbone(x).mean((2, 3))))


def decode(path, size):
    with Image.open(path) as image:
        image = image.convert("RGB")
        w, h = image.size
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        # BOX is PIL's area resampling, the counterpart of OpenCV's INTER_AREA for downscaling.
        return torch.frombuffer(bytearray(image.crop((left, top, left + side, top + side)).resize((size, size), Image.BOX).tobytes()), dtype=torch.uint8)


def rate(batch, seconds, step):
    step()
    step()
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < seconds or steps < 3:
        step()
        steps += 1
    return steps * batch / (time.perf_counter() - start), steps


def emit(backbone, figure, value, steps):
    print(json.dumps({"backbone": backbone, "figure": figure, "images_per_second": round(value, 3), "steps": steps}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", required=True, help="folder of photos (recursive; .jpg/.jpeg/.png)")
    parser.add_argument("--backbone", nargs="+", default=list(BACKBONES), choices=list(BACKBONES))
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--threads", type=int, default=0, help="0 = every core (Debian's torch starts with one thread)")
    parser.add_argument("--decode-count", type=int, default=256, help="photos decoded for the decode figure")
    args = parser.parse_args()

    threads = args.threads or os.cpu_count()
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    photos = sorted(p for p in Path(args.photos).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if len(photos) < args.batch:
        raise SystemExit(f"error: {args.photos} has {len(photos)} photos; at least --batch {args.batch} are needed")
    print(json.dumps({"torch": torch.__version__, "torchvision": torchvision.__version__, "threads": threads}), flush=True)

    for name in args.backbone:
        make, size, last_stage = BACKBONES[name]
        sample = photos[: args.decode_count]
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda p: decode(p, size), sample[:8]))   # warm-up, as the trainer's side does
            start = time.perf_counter()
            pixels = list(pool.map(lambda p: decode(p, size), sample))
            emit(name, "decode", len(pixels) / (time.perf_counter() - start), 1)
        # [B, 3, H, W] float 0..255 from the first photos: real content, as the trainer feeds its backbone.
        batch = torch.stack(pixels[: args.batch]).view(args.batch, size, size, 3).permute(0, 3, 1, 2).float().contiguous()
        labels = torch.arange(args.batch) % 2

        backbone = Features(make())
        with torch.no_grad():
            backbone.eval()
            channels = backbone(batch[:1]).shape[1]
        model = Transfer(backbone, channels)

        model.eval()
        for p in backbone.parameters():
            p.requires_grad_(False)

        def features():
            with torch.no_grad():
                model.backbone(batch).mean((2, 3))

        emit(name, "features", *rate(args.batch, args.seconds, features))

        head_optimizer = torch.optim.SGD(model.fc.parameters(), lr=1e-3, momentum=0.9, nesterov=True)

        def frozen():
            model.train()
            model.backbone.eval()
            head_optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(batch), labels).backward()
            head_optimizer.step()

        emit(name, "frozen", *rate(args.batch, args.seconds, frozen))

        stage = getattr(backbone.net, last_stage)
        for p in stage.parameters():
            p.requires_grad_(True)
        optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-4, momentum=0.9, nesterov=True)

        def finetune():
            model.train()
            model.backbone.eval()
            stage.train()
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(batch), labels).backward()
            optimizer.step()

        emit(name, "finetune", *rate(args.batch, args.seconds, finetune))


if __name__ == "__main__":
    main()
