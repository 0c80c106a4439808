#!/usr/bin/env python3
"""PyTorch reference timings for `ddpm bench --torch PYTHON` (chapter 14).

The same U-Net as src/network/unet.rs (the script checks the parameter count of each preset
against the count the Rust side passes in), the same training step (q_sample, L_simple,
backward, global-norm clipping to 1, Adam) and the same per-operation shapes as
`ddpm bench --ops`. Prints one JSON object on stdout; `ddpm bench` runs it in the same
process tree, right after its own timings, and puts both side by side.

Usage: torch_reference.py --presets small,paper --batch 64 --iterations 5 --threads 2
       [--params small=280177,paper=1623169] [--ops]
"""

import argparse
import json
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {
    # base, channel_mults, num_res_blocks, attention_resolutions, norm_groups, patch
    "tiny": (8, (1, 2), 1, (14,), 4, 1),
    "small": (16, (1, 2, 2), 1, (7,), 8, 1),
    "paper": (32, (1, 2, 2), 2, (7,), 8, 1),
    "patched": (32, (1, 1), 1, (7,), 8, 2),
}


def conv3x3(c_in, c_out, stride=1):
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1)


class ResidualBlock(nn.Module):
    def __init__(self, c_in, c_out, temb, groups):
        super().__init__()
        self.norm_1 = nn.GroupNorm(groups, c_in)
        self.conv_1 = conv3x3(c_in, c_out)
        self.time_projection = nn.Linear(temb, c_out)
        self.norm_2 = nn.GroupNorm(groups, c_out)
        self.conv_2 = conv3x3(c_out, c_out)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else None

    def forward(self, x, temb):
        h = self.conv_1(F.silu(self.norm_1(x)))
        h = h + self.time_projection(F.silu(temb))[:, :, None, None]
        h = self.conv_2(F.silu(self.norm_2(h)))
        return (self.skip(x) if self.skip is not None else x) + h


class AttentionBlock(nn.Module):
    def __init__(self, c, groups):
        super().__init__()
        self.norm = nn.GroupNorm(groups, c)
        self.query = nn.Conv2d(c, c, 1)
        self.key = nn.Conv2d(c, c, 1)
        self.value = nn.Conv2d(c, c, 1)
        self.out = nn.Conv2d(c, c, 1)

    def forward(self, x):
        b, c, h, w = x.shape
        n = h * w
        y = self.norm(x)
        q = self.query(y).reshape(b, c, n)
        k = self.key(y).reshape(b, c, n)
        v = self.value(y).reshape(b, c, n)
        scores = torch.bmm(q.transpose(1, 2), k) * c ** -0.5
        weights = torch.softmax(scores, dim=2)
        y = torch.bmm(v, weights.transpose(1, 2))
        return x + self.out(y.reshape(b, c, h, w))


def timestep_embedding(t, dim):
    half = dim // 2
    scale = -math.log(10000.0) / (half - 1)
    omega = torch.exp(torch.arange(half, dtype=torch.float32) * scale)
    angles = t[:, None] * omega[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


class UNet(nn.Module):
    def __init__(self, base, mults, blocks, attention, groups, patch, image_size=28):
        super().__init__()
        self.base, self.patch = base, patch
        temb = 4 * base
        self.linear_1 = nn.Linear(base, temb)
        self.linear_2 = nn.Linear(temb, temb)
        resolutions = [(image_size // patch) >> level for level in range(len(mults))]
        skips = [base]
        channels = base
        self.conv_in = conv3x3(patch * patch, base)
        self.down = nn.ModuleList()
        for level, resolution in enumerate(resolutions):
            c_out = base * mults[level]
            level_blocks, attns = nn.ModuleList(), nn.ModuleList()
            for _ in range(blocks):
                level_blocks.append(ResidualBlock(channels, c_out, temb, groups))
                channels = c_out
                if resolution in attention:
                    attns.append(AttentionBlock(channels, groups))
                skips.append(channels)
            down = None
            if level + 1 < len(mults):
                skips.append(channels)
                down = conv3x3(channels, channels, 2)
            self.down.append(nn.ModuleDict({"blocks": level_blocks, "attns": attns,
                                            "down": down if down is not None else nn.Identity()}))
            self.down[-1].has_down = down is not None
        self.mid_1 = ResidualBlock(channels, channels, temb, groups)
        self.mid_attn = AttentionBlock(channels, groups)
        self.mid_2 = ResidualBlock(channels, channels, temb, groups)
        self.up = nn.ModuleList()
        for level in reversed(range(len(mults))):
            resolution = resolutions[level]
            c_out = base * mults[level]
            level_blocks, attns = nn.ModuleList(), nn.ModuleList()
            for _ in range(blocks + 1):
                skip = skips.pop()
                level_blocks.append(ResidualBlock(channels + skip, c_out, temb, groups))
                channels = c_out
                if resolution in attention:
                    attns.append(AttentionBlock(channels, groups))
            up = conv3x3(channels, channels) if level > 0 else None
            self.up.append(nn.ModuleDict({"blocks": level_blocks, "attns": attns,
                                          "up": up if up is not None else nn.Identity()}))
            self.up[-1].has_up = up is not None
        self.norm_out = nn.GroupNorm(groups, channels)
        self.conv_out = conv3x3(channels, patch * patch)

    def forward(self, x, t):
        temb = self.linear_2(F.silu(self.linear_1(timestep_embedding(t, self.base))))
        p = self.patch
        if p > 1:
            x = F.pixel_unshuffle(x, p)
        h = self.conv_in(x)
        hs = [h]
        for level in self.down:
            for i, block in enumerate(level["blocks"]):
                h = block(h, temb)
                if i < len(level["attns"]):
                    h = level["attns"][i](h)
                hs.append(h)
            if level.has_down:
                h = level["down"](h)
                hs.append(h)
        h = self.mid_2(self.mid_attn(self.mid_1(h, temb)), temb)
        for level in self.up:
            for i, block in enumerate(level["blocks"]):
                h = block(torch.cat([h, hs.pop()], dim=1), temb)
                if i < len(level["attns"]):
                    h = level["attns"][i](h)
            if level.has_up:
                h = level["up"](F.interpolate(h, scale_factor=2, mode="nearest"))
        out = self.conv_out(F.silu(self.norm_out(h)))
        return F.pixel_shuffle(out, p) if p > 1 else out


def median_ms(fn, iterations):
    fn()  # warm-up
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def linear_alpha_bar(T=1000):
    betas = torch.linspace(1e-4, 0.02, T, dtype=torch.float64)
    return torch.cumprod(1.0 - betas, dim=0).float()


def bench_preset(name, batch, iterations):
    model = UNet(*PRESETS[name])
    params = sum(p.numel() for p in model.parameters())
    optim = torch.optim.Adam(model.parameters(), lr=1e-4, eps=1e-8)
    alpha_bar = linear_alpha_bar()
    t = torch.full((batch,), 500, dtype=torch.long)

    def train_step():
        x0 = torch.rand(batch, 1, 28, 28) * 2 - 1
        noise = torch.randn_like(x0)
        ab = alpha_bar[t - 1][:, None, None, None]
        x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * noise
        loss = F.mse_loss(model(x_t, t.float()), noise)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optim.step()

    train_ms = median_ms(train_step, iterations)
    model.eval()
    x = torch.randn(batch, 1, 28, 28)

    def forward():
        with torch.no_grad():
            model(x, t.float())

    forward_ms = median_ms(forward, iterations)
    return {"preset": name, "params": params, "batch": batch,
            "train_step_ms": train_ms, "forward_ms": forward_ms}


def op_modules(op):
    kind = op["kind"]
    if kind == "conv":
        return nn.Conv2d(op["c_in"], op["c_out"], op["kernel"], stride=op["stride"],
                         padding=op["padding"])
    if kind == "group_norm_silu":
        norm = nn.GroupNorm(op["groups"], op["c_in"])
        return nn.Sequential(norm, nn.SiLU()) if op["silu"] else norm
    if kind == "attention":
        return AttentionBlock(op["c_in"], op["groups"])
    raise ValueError(f"unknown op kind {kind}")


def bench_op(op, iterations):
    module = op_modules(op)
    x = torch.randn(op["batch"], op["c_in"], op["side"], op["side"])

    def forward():
        with torch.no_grad():
            module(x)

    xg = x.clone().requires_grad_(True)
    with torch.no_grad():
        r = torch.randn_like(module(x))

    def train():
        out = module(xg)
        (out * r).sum().backward()
        xg.grad = None
        for p in module.parameters():
            p.grad = None

    return {"name": op["name"], "forward_ms": median_ms(forward, iterations),
            "train_ms": median_ms(train, iterations)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--presets", default="small")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--params", default="")
    parser.add_argument("--ops", default="", help="JSON list of operations to time")
    a = parser.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    expected = dict(kv.split("=") for kv in a.params.split(",") if kv)
    report = {"torch_version": torch.__version__, "threads": torch.get_num_threads(),
              "presets": [], "ops": []}
    for name in [p for p in a.presets.split(",") if p]:
        r = bench_preset(name, a.batch, a.iterations)
        if name in expected and int(expected[name]) != r["params"]:
            sys.exit(f"preset {name}: the PyTorch network has {r['params']} parameters, "
                     f"the Rust one {expected[name]}: the two networks differ")
        report["presets"].append(r)
    for op in json.loads(a.ops) if a.ops else []:
        report["ops"].append(bench_op(op, a.iterations))
    json.dump(report, sys.stdout)
    print()


if __name__ == "__main__":
    main()
