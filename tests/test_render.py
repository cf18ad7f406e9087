"Tests for ecg_vision.render: geometry, determinism, bad input, fidelity, and `ecgv_render` end to end."
import shutil, subprocess, sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from skimage.metrics import structural_similarity

from ecg_vision.data import read_record
from ecg_vision.synth import make_synth, synth_record
from ecg_vision.data import make_split
from ecg_vision.render import (LAYOUTS, ROBUST, Box, decode_png, encode_png, panel_boxes, render, render_batch,
                               render_reference)

FIXTURE = Path(__file__).resolve().parents[1]/'nbs/fixtures/chapman/MUSE_20180111_155115_19000.csv'

@pytest.fixture(scope='module')
def rec(): return read_record(FIXTURE) if FIXTURE.exists() else synth_record('ST', 0)

def _cli(*args):
    exe = shutil.which('ecgv_render')
    cmd = [exe] if exe else [sys.executable, '-c', 'from ecg_vision.render import ecgv_render; ecgv_render()']
    return subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True, timeout=300)

@pytest.mark.parametrize('size', [(224, 224), (64, 128)])
def test_panel_geometry(size):
    b = panel_boxes('std', size)
    assert len(b) == 13 and all(isinstance(v, Box) for v in b.values())
    assert [b[k].left for k in ('I', 'aVR', 'V1', 'V4')] == sorted({b[k].left for k in ('I', 'aVR', 'V1', 'V4')})
    assert b['I'].right == b['aVR'].left and b['I'].bottom == b['II'].top
    assert (b['rhythm'].left, b['rhythm'].right, b['rhythm'].bottom) == (b['I'].left, size[1], size[0])
    for v in b.values(): assert 0 <= v.left < v.right <= size[1] and 0 <= v.top < v.bottom <= size[0]
    b6 = panel_boxes('2x6', size)
    assert len(b6) == 12 and 'rhythm' not in b6 and b6['V1'].left == b6['I'].right
    assert panel_boxes('alt', size)['V1'] == b['I']

def test_boxes_match_trace(rec):
    img, b = render(rec, 'std', boxes=True)
    assert b == panel_boxes('std', (224, 224))
    trace = (img[..., 2] > 120) & (img[..., 0] < 90)
    for k, v in b.items(): assert trace[v.top:v.bottom, v.left:v.right].sum() > 30, k

def test_determinism(rec):
    a, b = render(rec, '2x6'), render(rec.copy(), '2x6')
    assert a.dtype == np.uint8 and a.shape == (224, 224, 3) and (a == b).all()
    assert encode_png(a) == encode_png(b) and (decode_png(encode_png(a)) == a).all()
    va, vb = render(rec, 'std', variation=ROBUST, seed=7), render(rec, 'std', variation=ROBUST, seed=7)
    assert (va == vb).all() and (va != render(rec, 'std', variation=ROBUST, seed=8)).any()

def test_bad_input(rec):
    with pytest.raises(ValueError, match=r"shape \(5000, 12\); expected \(12, n_samples\)"): render(rec.T)
    bad = rec.copy(); bad[3, 10] = np.nan
    with pytest.raises(ValueError, match="NaN"): render(bad)
    with pytest.raises(ValueError, match="unknown layout 'nope'"): render(rec, 'nope')
    for f in (lambda: render(rec.T), lambda: render(bad)):
        with pytest.raises(ValueError) as e: f()
        assert '\n' not in str(e.value)

@pytest.mark.parametrize('layout', list(LAYOUTS))
def test_fidelity(rec, layout):
    g = lambda x: cv2.cvtColor(x, cv2.COLOR_RGB2GRAY)
    a, r = render(rec, layout, (224, 224)), render_reference(rec, layout, (224, 224))
    assert structural_similarity(g(a), g(r), data_range=255) >= 0.9
    assert np.abs(a.astype(int) - r).mean() < 10

@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    d = tmp_path_factory.mktemp('render')
    make_synth(d, 8, workers=1, progress=False); sp = make_split(d, d, test_size=0.25, workers=1, progress=False)
    df = pd.read_csv(sp['train'])
    (d/'bad').mkdir(); (d/'bad/BROKEN.csv').write_text('1,2,3\n4,5,6\n')
    # make_split writes record paths relative to the CSV's folder, so split_rel.csv beside it resolves them the same way
    df = pd.concat([df, pd.DataFrame(dict(record_id=['BROKEN'], path=['bad/BROKEN.csv'], rhythm=['SR'], label=['SR'], y=[3]))])
    df.to_csv(d/'split_rel.csv', index=False)
    return d, df

def test_ecgv_render_end_to_end(dataset):
    d, df = dataset; out = d/'charts'
    r = _cli('--data', d, '--meta', 'split_rel.csv', '--layouts', 'std,2x6', '--size', 64, '--out', out, '--workers', 2)
    assert r.returncode == 0, r.stderr
    good = df.record_id[df.record_id != 'BROKEN']
    files = sorted(out.rglob('*.png'))
    assert len(files) == 2*len(good)
    assert all((out/rid/f'{l}.png').exists() for rid in good for l in ('std', '2x6'))
    assert decode_png((out/good.iloc[0]/'std.png').read_bytes()).shape == (64, 64, 3)
    bad_lines = [l for l in r.stdout.splitlines() if 'BROKEN.csv' in l]
    assert len(bad_lines) == 1 and 'expected 12 lead columns' in bad_lines[0]
    assert 'wrote' in r.stdout and '1 bad records skipped' in r.stdout
    first = {f: f.read_bytes() for f in files}
    # resumable: a second run renders nothing new
    r2 = _cli('--data', d, '--meta', 'split_rel.csv', '--layouts', 'std,2x6', '--size', 64, '--out', out)
    assert r2.returncode == 0 and f'{len(good)} records already done' in r2.stdout
    # deterministic: deleting and re-rendering with another worker count gives the same bytes
    for f in files[:3]: f.unlink()
    r3 = _cli('--data', d, '--meta', 'split_rel.csv', '--layouts', 'config2', '--size', 64, '--out', out, '--workers', 1)
    assert r3.returncode == 0 and {f: f.read_bytes() for f in files} == first

def test_ecgv_render_missing_meta(tmp_path):
    r = _cli('--data', tmp_path, '--meta', 'nope.csv', '--out', tmp_path/'o')
    assert r.returncode == 2 and r.stderr.strip().endswith('nope.csv: split CSV not found') and '\n' not in r.stderr.strip()

def test_render_batch_varied_is_deterministic(dataset, tmp_path):
    d, df = dataset
    a = render_batch(d/'split_rel.csv', 'std', 48, tmp_path/'a', workers=1, data=d, variation=ROBUST, progress=False)
    b = render_batch(d/'split_rel.csv', 'std', 48, tmp_path/'b', workers=2, data=d, variation=ROBUST, progress=False)
    assert a['rendered'] == b['rendered'] == len(df) - 1 and len(a['bad']) == 1
    for f in (tmp_path/'a').rglob('*.png'): assert f.read_bytes() == (tmp_path/'b'/f.relative_to(tmp_path/'a')).read_bytes()
