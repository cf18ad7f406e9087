"""Training throughput: images/s with (a) random tensors already on the device (compute only) and (b) the LMDB
DataLoaders (`ecg_vision.loaders.chart_dls`), and the ratio b/a (goal >= 0.95: the input pipeline keeps the GPU busy);
with two or more GPUs also (c) 2-GPU DDP images/s of compute alone (NCCL, one process per GPU) and its scaling c/(2a).
One script, under 5 minutes on one GPU machine; never part of CI.

Both use the same training step (forward, cross-entropy, backward, AdamW step) with the settings `ecg_vision.train`
uses on that device: channels_last and bf16/fp16 autocast on CUDA, fp32 on CPU.

    python bench/train_gpu.py                       # GPU: resnet18 + convnext_tiny at 224, synthetic LMDB
    python bench/train_gpu.py --lmdb train.lmdb     # on real charts
    python bench/train_gpu.py --smoke               # CPU: tiny and quick (the DDP part runs 2 gloo processes)
"""
import json, os, tempfile, time
from pathlib import Path
import torch
from fastcore.script import call_parse
from ecg_vision.models import build_model
from ecg_vision.train import TrainConfig, run_precision

def _step_fn(model, dev, prec):
    opt = torch.optim.AdamW(model.parameters(), 1e-4)
    dtype = {'bf16': torch.bfloat16, 'fp16': torch.float16}.get(prec)
    scaler = torch.amp.GradScaler('cuda', enabled=prec == 'fp16')
    cl = torch.channels_last if dev.type == 'cuda' else torch.contiguous_format
    def step(x, y):
        x = x.to(dev, non_blocking=True).contiguous(memory_format=cl)
        with torch.autocast(dev.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = torch.nn.functional.cross_entropy(model(x), y.to(dev, non_blocking=True))
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward(); scaler.step(opt); scaler.update()
    return step

def _sync(dev):
    if dev.type == 'cuda': torch.cuda.synchronize(dev)

def _timed(step, batches, warmup, steps, dev):
    "images/s over `steps` batches after `warmup` ones."
    it = iter(batches)
    for _ in range(warmup): step(*next(it))
    _sync(dev); t, n = time.perf_counter(), 0
    for _ in range(steps):
        x, y = next(it); step(x, y); n += len(x)
    _sync(dev)
    return n/(time.perf_counter() - t)

def _ddp_rank(rank, world, port, cuda, arch, size, bs, steps, warmup, q):
    "One DDP process on GPU `rank` (gloo on CPU in --smoke): compute-only images/s of all ranks together, put on `q` by rank 0."
    import torch.distributed as dist
    dev = torch.device('cuda', rank) if cuda else torch.device('cpu')
    if cuda: torch.cuda.set_device(dev)
    dist.init_process_group('nccl' if cuda else 'gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=world)
    model = build_model(arch, 4).to(dev)
    if cuda: model = model.to(memory_format=torch.channels_last)
    ddp = torch.nn.parallel.DistributedDataParallel(model.train(), device_ids=[rank] if cuda else None)
    step = _step_fn(ddp, dev, run_precision(TrainConfig(), dev))
    x = torch.randn(bs, 3, size, size, device=dev); y = torch.randint(0, 4, (bs,), device=dev)
    dist.barrier()
    r = _timed(step, iter(lambda: (x, y), None), warmup, steps, dev)
    t = torch.tensor([r], device=dev); dist.all_reduce(t)  # sum of the ranks' images/s
    if rank == 0: q.put(float(t.item()))
    dist.destroy_process_group()

def _ddp_img_s(arch, size, bs, steps, warmup, world=2, cpu=False):
    "Images/s of `world` DDP processes together (spawned here, one per GPU)."
    import socket, torch.multiprocessing as mp
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
    ctx = mp.get_context('spawn'); q = ctx.Queue()
    mp.spawn(_ddp_rank, args=(world, port, not cpu, arch, size, bs, steps, warmup, q), nprocs=world, join=True)
    return q.get()

def _forever(dl):
    while True: yield from ((x.as_subclass(torch.Tensor), y.as_subclass(torch.Tensor)) for x, y in dl)

def _synthetic_lmdb(n, size):
    from ecg_vision.synth import make_synth
    from ecg_vision.split import make_split
    from ecg_vision.lmdb import render_to_lmdb
    d = Path(tempfile.mkdtemp())
    make_synth(d, n=n, seed=0)
    split = make_split(d, d, test_size=0.1)
    return render_to_lmdb(split['train'], ['std'], size, d/'bench.lmdb', workers=min(8, os.cpu_count()), progress=False)

@call_parse
def main(lmdb:str='',        # training LMDB; '' renders a synthetic one at `size`
         archs:str='resnet18,convnext_tiny',  # comma-separated architectures
         size:int=224,       # input size
         bs:int=64,          # batch size
         steps:int=30,       # timed steps per measurement
         warmup:int=5,       # untimed steps first
         num_workers:int=-1, # DataLoader workers (-1: min(8, cores))
         n_records:int=400,  # records in the synthetic LMDB
         smoke:bool=False,   # tiny CPU run: 64 px, bs 4, 2 steps
         ddp:bool=True,      # with 2+ GPUs also measure 2-GPU DDP scaling
         out:str='',         # also write the results as JSON here
        ):
    "Print images/s for random on-device tensors vs the LMDB DataLoaders, and their ratio."
    from ecg_vision.loaders import chart_dls
    t_start = time.perf_counter()
    if smoke: size, bs, steps, warmup, n_records, num_workers = 64, 4, 2, 1, 12, 0
    if num_workers < 0: num_workers = min(8, os.cpu_count())
    dev = torch.device('cuda' if torch.cuda.is_available() and not smoke else 'cpu')
    prec = run_precision(TrainConfig(), dev)
    if dev.type == 'cuda': torch.backends.cudnn.benchmark = True
    lmdb = lmdb or str(_synthetic_lmdb(n_records, size))
    dls = chart_dls(lmdb, valid_pct=0.1, bs=bs, size=size, num_workers=num_workers, device=dev)
    settings = dict(device=torch.cuda.get_device_name(dev) if dev.type == 'cuda' else 'cpu', n_gpus=torch.cuda.device_count(), precision=prec,
                    channels_last=dev.type == 'cuda', size=size, bs=bs, steps=steps, warmup=warmup,
                    num_workers=num_workers, lmdb=lmdb, n_train=len(dls.train_ds), torch=torch.__version__)
    print(json.dumps(settings))
    rows = []
    for arch in archs.split(','):
        model = build_model(arch, 4).to(dev)
        if dev.type == 'cuda': model = model.to(memory_format=torch.channels_last)
        step = _step_fn(model.train(), dev, prec)
        x = torch.randn(bs, 3, size, size, device=dev); y = torch.randint(0, 4, (bs,), device=dev)
        a = _timed(step, iter(lambda: (x, y), None), warmup, steps, dev)
        b = _timed(step, _forever(dls.train), warmup, steps, dev)
        rows.append(dict(arch=arch, compute_img_s=round(a, 1), lmdb_img_s=round(b, 1), ratio=round(b/a, 3)))
        print(f"{arch:16s} (a) random on device {a:9.1f} img/s   (b) LMDB DataLoaders {b:9.1f} img/s   b/a = {b/a:.3f}", flush=True)
        if ddp and (torch.cuda.device_count() >= 2 or smoke):
            del model, step; torch.cuda.empty_cache() if dev.type == 'cuda' else None
            c = _ddp_img_s(arch, size, bs, steps, warmup, cpu=dev.type != 'cuda')
            rows[-1].update(ddp2_img_s=round(c, 1), ddp2_scaling=round(c/(2*a), 3))
            print(f"{arch:16s} (c) 2-process DDP {'(NCCL)' if dev.type == 'cuda' else '(gloo)'} {c:9.1f} img/s   c/(2a) = {c/(2*a):.3f}", flush=True)
    print(f"total {time.perf_counter() - t_start:.0f} s")
    if out: Path(out).write_text(json.dumps(dict(settings=settings, results=rows), indent=1)); print(f"wrote {out}")
    return None
