"""Capture distortions: OpenCV per chart (what `ecg_vision.capture` does) vs torch batched (torchvision v2 / grid_sample).

    python bench/capture_backends.py --size 128 --bs 64            # CPU, one thread for both
    python bench/capture_backends.py --size 224 --bs 256 --device cuda   # where a GPU is lent

Prints ms per chart for each distortion at severity 1 (`capture.UNIT`) with its own random draw per chart, both ways:
OpenCV on uint8 numpy (`capture.capture`, one chart at a time, as `CaptureAug` runs in the training loop) and torch on a
uint8 (B, 3, H, W) batch on `--device` (one homography per chart through `grid_sample`, `gaussian_blur`, `interpolate`,
`torchvision.io` JPEG). The torch versions follow the same recipes but are timing stand-ins, not pixel-equal copies.

Measured 2026-12-02 on the 2-core CPU, one thread, batch 64, ms per chart for the seven conditions together,
OpenCV / torch: 2.2 / 3.4 at 128 px, 5.0 / 12.9 at 224 px with a training job on the other core; 3.0 / 4.6 and
5.6 / 17.5 on an idle machine (torch's per-chart Gaussian blur, its grid_sample warps and its resampling are the slow
parts; the homographies are solved in one batched call). On the CPU OpenCV wins, so `CaptureAug` uses it; no GPU was lent to this
task, so the `--device cuda` column (where batched torch should win and keep a GPU fed) is not measured yet.
"""
import argparse, math, time
import numpy as np, torch, torch.nn.functional as F
from torchvision.io import decode_jpeg, encode_jpeg
from torchvision.transforms.v2 import functional as TF
from ecg_vision.capture import UNIT, capture
from ecg_vision.render import render
from ecg_vision.synth import synth_record

def _homographies(b, w, h, deg, persp, g):
    "One random rotation + keystone per chart, as (B, H, W, 2) sampling grids."
    a = torch.deg2rad(deg*torch.where(torch.rand(b, generator=g) < .5, -1., 1.))
    dst = torch.tensor([[-1., -1.], [1., -1.], [1., 1.], [-1., 1.]])
    src = dst.expand(b, 4, 2)*1.
    R = torch.stack([torch.stack([a.cos(), -a.sin()], -1), torch.stack([a.sin(), a.cos()], -1)], 1)
    src = src @ R.transpose(1, 2) + 2*persp*(torch.rand(b, 4, 2, generator=g)*2 - 1)
    x, y = dst[:, 0].expand(b, 4), dst[:, 1].expand(b, 4); u, v = src[..., 0], src[..., 1]
    one, zero = torch.ones(b, 4), torch.zeros(b, 4)
    A = torch.cat([torch.stack([x, y, one, zero, zero, zero, -u*x, -u*y], -1),   # dst -> src, 8 unknowns per chart,
                   torch.stack([zero, zero, zero, x, y, one, -v*x, -v*y], -1)], 1)  # all charts in one batched solve
    rhs = torch.cat([u, v], 1)
    H = torch.cat([torch.linalg.solve(A, rhs), torch.ones(b, 1)], 1).view(b, 3, 3)
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing='ij')
    p = torch.stack([xs, ys, torch.ones_like(xs)], -1).view(1, -1, 3) @ H.transpose(1, 2)
    return (p[..., :2]/p[..., 2:]).view(b, h, w, 2)

def torch_ops(x, g):
    "name -> function(batch) for the torch stand-ins of the severity-1 conditions."
    b, _, h, w = x.shape; dev = x.device
    f = lambda t: t.float()/255
    u8 = lambda t: (t*255).clamp(0, 255).round().to(torch.uint8)
    def geom(deg, persp):
        grid = _homographies(b, w, h, deg, persp, g).to(dev)
        return u8(F.grid_sample(f(x), grid, mode='bilinear', padding_mode='border', align_corners=True))
    def blur(): return torch.stack([TF.gaussian_blur(im, [7, 7], [s*h/224]) for im, s in zip(x, torch.rand(b, generator=g).tolist())])
    def jpeg():
        q = (100/(1 + 7/3*torch.rand(b, generator=g))).round().int().tolist()
        xs = x if dev.type == 'cuda' else x.cpu()
        return torch.stack([decode_jpeg(encode_jpeg(im, quality=qq), device=dev) for im, qq in zip(xs, q)])
    def noise(): return u8(f(x) + 12/255*torch.randn(x.shape, device=dev))
    def lighting():
        a = torch.rand(b, 1, 1, device=dev)*2*math.pi
        ys, xs = torch.meshgrid(torch.linspace(0, 1, h, device=dev), torch.linspace(0, 1, w, device=dev), indexing='ij')
        t = xs*a.cos() + ys*a.sin(); t = (t - t.amin((1, 2), True))/(t.amax((1, 2), True) - t.amin((1, 2), True))
        col = torch.tensor([1, .94, .85], device=dev).view(1, 3, 1, 1)
        return u8(f(x)*(1 - .4*(1 - t))[:, None]*col)
    def resample():
        d = F.interpolate(f(x), scale_factor=.5, mode='area')
        return u8(F.interpolate(d, size=(h, w), mode='bilinear', align_corners=False))
    return dict(rotate=lambda: geom(3., 0.), perspective=lambda: geom(0., .06), blur=blur, jpeg=jpeg, noise=noise,
                lighting=lighting, resample=resample)

def _ms(fn, n, sync):
    fn(); sync(); t = time.perf_counter()
    for _ in range(n): fn()
    sync(); return 1000*(time.perf_counter() - t)/n

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--size', type=int, default=128, help='chart size (pixels)')
    ap.add_argument('--bs', type=int, default=64, help='charts per batch')
    ap.add_argument('--reps', type=int, default=3, help='timed batches per distortion')
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--threads', type=int, default=1, help='torch CPU threads (OpenCV runs one chart at a time)')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    imgs = np.stack([render(synth_record(c, s), 'std', (a.size, a.size)) for s, c in enumerate(['SR', 'SB', 'AFIB', 'ST']*(a.bs//4))])
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).contiguous().to(a.device)
    sync = torch.cuda.synchronize if a.device.startswith('cuda') else (lambda: None)
    ops, rows = torch_ops(x, torch.Generator().manual_seed(0)), []
    for name, fn in ops.items():
        cv = _ms(lambda: [capture(im, UNIT[name], s) for s, im in enumerate(imgs)], a.reps, lambda: None)/len(imgs)
        tt = _ms(fn, a.reps, sync)/len(imgs)
        rows.append((name, cv, tt))
    print(f"ms per {a.size}-px chart, batch {len(imgs)}: OpenCV (numpy, per chart) vs torch on {a.device} ({a.threads} thread(s))")
    print(f"{'distortion':<12}{'OpenCV':>9}{'torch':>9}")
    for n, cv, tt in rows: print(f"{n:<12}{cv:>9.3f}{tt:>9.3f}")
    print(f"{'sum':<12}{sum(r[1] for r in rows):>9.3f}{sum(r[2] for r in rows):>9.3f}")

if __name__ == '__main__': main()
