"End-to-end tests of `ecg_vision.loaders`: the by-record split, batches, ordered test loaders, DataLoader workers."
import torch
from ecg_vision.data import CLASSES
from ecg_vision.lmdb import pack_images
from ecg_vision import loaders as LD  # LD.test_dl: a bare `test_dl` name here would be collected as a test
from ecg_vision.loaders import ChartDataset, chart_dls
from test_lmdb import HW, N, _expected, pngs  # the PNG-folder fixture and its expected keys

def test_split_by_record(pngs, tmp_path):
    d, meta = pngs
    out = pack_images(d, meta, tmp_path/'x.lmdb', progress=False)
    for seed in range(5):
        dls = chart_dls(out, valid_pct=0.25, bs=4, seed=seed, device='cpu')
        t, v = dls.train.dataset.index, dls.valid.dataset.index
        assert not set(t.record_id) & set(v.record_id) and len(t) + len(v) == 2*N and len(v) > 0
    assert dls.c == 4 and dls.vocab == CLASSES
    xb, yb = dls.valid.one_batch()
    assert xb.dtype == torch.float32 and xb.shape == (4, 3, *HW) and yb.shape == (4,)
    tl = LD.test_dl(out, bs=5, size=32, device='cpu')
    ys = [b[1] for b in tl]
    assert tl.one_batch()[0].shape == (5, 3, 32, 32) and torch.cat(ys).tolist() == [int(k[1:4]) % 4 for k in _expected()]

def test_dataloader_workers(pngs, tmp_path):
    d, meta = pngs
    out = pack_images(d, meta, tmp_path/'x.lmdb', progress=False)
    ChartDataset(out)[0]                                                   # parent holds an env before workers fork
    tl = LD.test_dl(out, bs=8, num_workers=2, device='cpu')
    assert torch.cat([b[1] for b in tl]).tolist() == [int(k[1:4]) % 4 for k in _expected()]
