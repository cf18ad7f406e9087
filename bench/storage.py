"""Benchmark the LMDB chart store: bytes per record (ours vs the study's pickled tensors) and decode throughput.

    python bench/storage.py [--n 60] [--workers 1] [--seconds 1.5]

Renders a small synthetic set (config2: layouts std + 2x6) at 224 and 300 px straight into LMDB, re-creates the
study's format (ImageNet-normalised float32 tensors at 224 and 300 in one pickle per chart; only dumped here to
measure its size, never loaded), and times decoding in one process and through the DataLoader.
A "record" below is one chart (one record x one layout), as in the study's 1,683,045 bytes/record.
"""
import argparse, os, pickle, tempfile, time
from pathlib import Path
import cv2, lmdb, numpy as np, torch
from ecg_vision.split import make_split
from ecg_vision.synth import make_synth
from ecg_vision.lmdb import encode_image, decode_image, render_to_lmdb
from ecg_vision.loaders import ChartDataset, test_dl
from ecg_vision.loaders import IMAGENET_MEAN, IMAGENET_STD

def rate(fn, n, seconds):
    "(items per wall second, items per CPU second of this process) of `fn(i)` over i in range(n), for >= `seconds`."
    done, t0, c0 = 0, time.perf_counter(), time.process_time()
    while True:
        for i in range(n): fn(i)
        done += n
        if (dt := time.perf_counter() - t0) >= seconds: return done / dt, done / max(time.process_time() - c0, 1e-9)

def value_sizes(path):
    "Stored bytes of every chart value (the reserved `__meta__`/`__index__` keys left out)."
    with lmdb.open(str(path), readonly=True, lock=False) as env, env.begin() as txn:
        return [len(v) for k, v in txn.cursor() if not k.startswith(b'__')]

def study_bytes(img224, img300, y):
    "One chart in the study's format: normalised float32 CHW tensors at 224 and 300 plus the label, pickled."
    mean, std = torch.tensor(IMAGENET_MEAN)[:, None, None], torch.tensor(IMAGENET_STD)[:, None, None]
    t = lambda im: (torch.from_numpy(im).permute(2, 0, 1).float() / 255 - mean) / std
    return len(pickle.dumps({'image_224': t(img224), 'image_300': t(img300), 'label': y}))

def main(n=60, workers=1, seconds=1.5):
    t_start = time.perf_counter()
    torch.set_num_threads(1); cv2.setNumThreads(1)
    d = Path(tempfile.mkdtemp())
    sp = make_split(make_synth(d/'synth', n=n, seed=0), d/'synth', progress=False)
    lm, t_pack = {}, {}
    for s in (224, 300):
        t0 = time.perf_counter()
        lm[s] = render_to_lmdb(sp['train'], 'config2', s, d/f'train{s}.lmdb', workers=workers, progress=False)
        t_pack[s] = time.perf_counter() - t0
    ds224, ds300 = ChartDataset(lm[224]), ChartDataset(lm[300])
    nrec = len(ds224)

    print(f"\n== bytes per record ({nrec} charts = {nrec//2} records x 2 layouts, lossless WebP) ==")
    v224, v300 = np.mean(value_sizes(lm[224])), np.mean(value_sizes(lm[300]))
    disk = {s: os.path.getsize(lm[s]/'data.mdb') / nrec for s in lm}
    k = min(nrec, 20)
    study = np.mean([study_bytes(ds224.image(i), ds300.image(i), int(ds224.index.y[i])) for i in range(k)])
    rows = [('ours, 224 only (value)', v224), ('ours, 300 only (value)', v300), ('(224 + 300 if both were stored)', v224 + v300),
            ('ours, 224 on disk (data.mdb / charts)', disk[224]), ('ours, 300 on disk (data.mdb / charts)', disk[300]),
            ('study: pickled float32 224 + 300', study)]
    for name, b in rows: print(f"  {name:40s} {b:>12,.0f} bytes  ({study / b:6.1f}x smaller than study)" if 'study' not in name else f"  {name:40s} {b:>12,.0f} bytes")
    print(f"  target <= 40,000 bytes/record (one size per LMDB, on disk): {'met' if max(disk.values()) <= 40000 else 'MISSED'}")

    print(f"\n== codec at 224 (same {k} charts) ==")
    imgs = [ds224.image(i) for i in range(k)]
    for c in ('webp', 'png'):
        bs = [encode_image(im, c) for im in imgs]
        assert all(np.array_equal(decode_image(b), im) for b, im in zip(bs, imgs))
        c0 = time.process_time(); [encode_image(im, c) for im in imgs]; enc = (time.process_time() - c0) / k
        _, dec = rate(lambda i: decode_image(bs[i]), k, seconds / 2)
        print(f"  {c:5s} {np.mean([len(b) for b in bs]):>9,.0f} bytes  encode {enc*1e3:5.1f} ms CPU  decode {dec:7,.0f}/CPU-s  (lossless)")

    print(f"\n== decoded samples/s, one process, one thread (wall | per CPU-second of this process) ==")
    ds300r = ChartDataset(lm[300], size=224)
    for name, ds in [('224 stored -> 224 uint8 tensor', ds224), ('300 stored -> 300 uint8 tensor', ds300),
                     ('300 stored -> resized to 224', ds300r)]:
        w, c = rate(lambda i: ds[i], nrec, seconds)
        print(f"  {name:34s} {w:8,.0f}/s | {c:8,.0f}/s" + (f"   (target >= 1,500/s per core: {'met' if c >= 1500 else 'MISSED'})" if ds is ds224 else ''))

    reps = np.tile(np.arange(nrec), 8)                                # the same charts 8x: amortise worker start-up
    big = ChartDataset(lm[224], idxs=reps)
    print(f"\n== through DataLoaders at 224, bs 64, {len(big)} samples per pass (wall) ==")
    for nw in (0, 2):
        dl = torch.utils.data.DataLoader(big, batch_size=64, num_workers=nw)
        w, _ = rate(lambda _: sum(len(b[1]) for b in dl), 1, seconds)
        print(f"  uint8 batches (decode + collate), num_workers={nw}  {w * len(big):8,.0f}/s")
    for nw in (0, 2):
        dl = test_dl(lm[224], 64, num_workers=nw, device='cpu', idxs=reps)
        w, _ = rate(lambda _: sum(len(b[1]) for b in dl), 1, seconds)
        print(f"  fastai test_dl (float, ImageNet-normalised on CPU), num_workers={nw}  {w * len(big):8,.0f}/s")
    print("  (on a GPU machine the float conversion + normalisation run on the GPU, after the uint8 batch is moved)")
    print(f"\npack (render + encode + write, workers={workers}): 224: {nrec/t_pack[224]:.0f} charts/s, 300: {nrec/t_pack[300]:.0f} charts/s")
    print(f"total {time.perf_counter() - t_start:.1f} s; scratch in {d}")

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--n', type=int, default=60, help='synthetic records (80%% go to the train split that is packed)')
    p.add_argument('--workers', type=int, default=1, help='render processes')
    p.add_argument('--seconds', type=float, default=1.5, help='seconds per throughput measurement')
    a = p.parse_args()
    main(a.n, a.workers, a.seconds)
