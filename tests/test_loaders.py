"End-to-end tests of `ecg_vision.loaders` that need processes: DataLoader workers (the split, batches and ordered loaders are tested in 03b_loaders)."
import torch
from ecg_vision.lmdb import pack_images
from ecg_vision import loaders as LD  # LD.test_dl: a bare `test_dl` name here would be collected as a test
from ecg_vision.loaders import ChartDataset
from test_lmdb import _expected, pngs  # noqa: F401 -- the PNG-folder fixture and its expected keys

def test_dataloader_workers(pngs, tmp_path):
    d, meta = pngs
    out = pack_images(d, meta, tmp_path/'x.lmdb', progress=False)
    ChartDataset(out)[0]                                                   # parent holds an env before workers fork
    tl = LD.test_dl(out, bs=8, num_workers=2, device='cpu')
    assert torch.cat([b[1] for b in tl]).tolist() == [int(k[1:4]) % 4 for k in _expected()]
