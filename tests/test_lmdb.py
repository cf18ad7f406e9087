"End-to-end tests of `ecg_vision.lmdb`: format, packing, crash + resume, verify, the `ecgv_pack` command (loaders: test_loaders.py)."
import json, os, shutil, signal, subprocess, sys, textwrap
from pathlib import Path
import cv2, lmdb, numpy as np, pandas as pd, pytest, torch
from ecg_vision.data import CLASSES
from ecg_vision import lmdb as L
from ecg_vision.loaders import ChartDataset

N, LAYOUTS, HW = 16, ['2x6', 'std'], (48, 64)  # layouts as pack_images finds them (sorted)

def _chart(i, lay):
    "A small synthetic chart: pink grid, one black trace that depends on the record and layout."
    img = np.full((*HW, 3), 255, np.uint8); img[:, ::5] = (255, 200, 230); img[::5] = (255, 200, 230)
    x = np.arange(HW[1]); y = (HW[0]/2 + (8 + i % 7) * np.sin(x / (3 + (lay == '2x6')) + i)).astype(np.int32)
    cv2.polylines(img, [np.stack([x, y], 1)], False, (0, 0, 0), 1, cv2.LINE_AA)
    return img

@pytest.fixture
def pngs(tmp_path):
    "A PNG folder <record_id>/<layout>.png and its meta CSV (+ labels.json)."
    d = tmp_path/'png'
    rows = []
    for i in range(N):
        rid = f"R{i:03d}"; (d/rid).mkdir(parents=True)
        for lay in LAYOUTS: cv2.imwrite(str(d/rid/f"{lay}.png"), _chart(i, lay)[..., ::-1])
        rows.append(dict(record_id=rid, path=f"/nowhere/{rid}.csv", rhythm=CLASSES[i % 4], label=CLASSES[i % 4], y=i % 4))
    pd.DataFrame(rows).to_csv(tmp_path/'split_train.csv', index=False)
    (tmp_path/'labels.json').write_text(json.dumps(dict(classes=CLASSES)))
    return d, tmp_path/'split_train.csv'

def _expected(): return [f"R{i:03d}/{l}" for i in range(N) for l in LAYOUTS]

def _run(*args):
    "Run the `ecgv_pack` console script (or, when it is not installed, the same function from a script file)."
    cmd = shutil.which('ecgv_pack')
    if cmd is None:
        cmd = Path(os.environ.get('TMPDIR', '/tmp'))/'_ecgv_pack.py'
        cmd.write_text('from ecg_vision.signals import ecgv_pack\necgv_pack()\n'); cmd = [sys.executable, str(cmd)]
    return subprocess.run([*([cmd] if isinstance(cmd, str) else cmd), *args], capture_output=True, text=True, timeout=300)

def test_round_trip_and_no_pickle(pngs, tmp_path):
    d, meta = pngs
    out = L.pack_images(d, meta, tmp_path/'x.lmdb', progress=False)
    ds = ChartDataset(out)
    assert list(ds.index.key) == _expected() and len(ds) == 2*N
    for i in [0, 5, 2*N-1]:
        rid, lay = ds.index.key[i].split('/')
        assert np.array_equal(ds.image(i), _chart(int(rid[1:]), lay))        # lossless
        x, y = ds[i]
        assert x.dtype == torch.uint8 and x.shape == (3, *HW) and y == int(rid[1:]) % 4
    with L._open(out).begin() as txn:                                       # this process's shared reader
        for k, v in txn.cursor():
            assert v[:1] != b'\x80'                                          # no pickle protocol marker
            if k.startswith(b'__'): json.loads(v)                            # reserved keys: plain JSON
            else: assert v[:4] == b'ECGV' and L.unpack_value(v, k)[0]['record_id'] == k.decode().split('/')[0]
    m = L.read_meta(out)
    assert (m['count'], m['size'], m['layouts'], m['classes'], m['codec']) == (2*N, list(HW), LAYOUTS, CLASSES, 'webp')
    assert len(m['fingerprint']) == 64
    csv = pd.read_csv(L.index_csv(out))
    assert list(csv.columns) == ['key', 'record_id', 'layout', 'y'] and list(csv.key) == _expected()

def test_bad_input_errors_name_the_key(pngs, tmp_path):
    d, meta = pngs
    df = pd.read_csv(meta); df.loc[3, 'y'] = 9; df.loc[3, 'label'] = 'XX'
    out = L.pack_images(d, df, tmp_path/'x.lmdb', progress=False)               # bad label: skipped + reported
    assert 'R003/std' not in set(L.read_index(out).key) and 'R003' in L.read_meta(out)['skipped']
    L._release(out); env = lmdb.open(str(out))       # LMDB allows one open env per process
    with env.begin(write=True) as txn:
        v = txn.get(b'R001/std'); txn.put(b'R001/std', v[:4] + (7).to_bytes(2, 'little') + v[6:])        # unknown version
        txn.delete(b'R002/std')                                                                          # missing key
    env.close()
    ds = ChartDataset(out)
    with pytest.raises(L.BadEntry, match='R001/std: unknown format version 7'): ds[ds.index.key.tolist().index('R001/std')]
    with pytest.raises(L.BadEntry, match='R002/std: missing'): ds[ds.index.key.tolist().index('R002/std')]
    assert L.verify(out) == ['R001/std', 'R002/std']

def test_resume_after_kill(pngs, tmp_path):
    "A pack SIGKILLed after 3 committed batches, then re-run, ends with exactly the expected entries."
    d, meta = pngs
    out = tmp_path/'x.lmdb'
    crash = textwrap.dedent(f"""
        import os, signal, ecg_vision.lmdb as L
        orig, n = L._put_batch, [0]
        def dying(env, items):
            if n[0] == 4: os.kill(os.getpid(), signal.SIGKILL)     # 1 meta write + 3 batches, then a hard kill
            n[0] += 1; orig(env, items)
        L._put_batch = dying
        L.pack_images({str(d)!r}, {str(meta)!r}, {str(out)!r}, batch=4, workers=2, progress=False)
    """)
    r = subprocess.run([sys.executable, '-c', crash], capture_output=True, text=True, timeout=300)
    assert r.returncode == -signal.SIGKILL, r.stderr
    env = lmdb.open(str(out), readonly=True, lock=False)
    with env.begin() as txn: keys = [bytes(k).decode() for k in txn.cursor().iternext(values=False)]
    env.close()
    assert len(keys) == 12 + 1 and '__index__' not in keys                # 3 batches of 4 + the first __meta__
    r = _run('--images', str(d), '--meta', str(meta), '--out', str(out), '--batch', '4')
    assert r.returncode == 0, r.stderr
    env = lmdb.open(str(out), readonly=True, lock=False)
    with env.begin() as txn: keys = [bytes(k).decode() for k in txn.cursor().iternext(values=False)]
    env.close()
    assert sorted(keys) == sorted(_expected() + ['__index__', '__meta__'])
    assert list(L.read_index(out).key) == _expected() and L.verify(out) == []

def test_pack_verify_cli(pngs, tmp_path):
    d, meta = pngs
    out = tmp_path/'x.lmdb'
    r = _run('--images', str(d), '--meta', str(meta), '--out', str(out), '--workers', '2')
    assert r.returncode == 0 and str(out) in r.stdout, r.stderr
    r = _run('--verify', str(out))
    assert r.returncode == 0 and '0 bad' in r.stdout, r.stdout + r.stderr
    bad = shutil.copytree(out, tmp_path/'bad.lmdb')
    env = lmdb.open(str(bad))
    with env.begin(write=True) as txn:
        v = bytearray(txn.get(b'R007/2x6')); v[-5] ^= 0xFF; txn.put(b'R007/2x6', bytes(v))       # flip one image byte
        txn.put(b'R099/std', b'\x80\x04junk')                                                    # a stray key
    env.close()
    r = _run('--verify', str(bad))
    assert r.returncode == 1, r.stdout + r.stderr
    assert 'BAD R007/2x6: checksum mismatch' in r.stdout and 'BAD R099/std: not in the index' in r.stdout and '2 bad' in r.stdout
    r = _run('--images', str(d), '--meta', str(meta), '--out', str(out), '--codec', 'png')
    assert r.returncode != 0 and 'different pack' in r.stderr                 # refuses to mix two packs

def test_render_to_lmdb(tmp_path):
    pytest.importorskip('ecg_vision.render')
    from ecg_vision.synth import make_synth
    from ecg_vision.split import make_split
    sp = make_split(make_synth(tmp_path, n=8, seed=1), tmp_path, progress=False)
    out = L.render_to_lmdb(sp['train'], 'config2', 64, tmp_path/'train.lmdb', workers=2, progress=False)
    n = len(pd.read_csv(sp['train']))
    assert L.read_meta(out)['count'] == 2*n and L.verify(out) == []
    again = L.render_to_lmdb(sp['train'], 'config2', 64, out, progress=False)        # complete: nothing to do
    assert L.read_index(again).equals(L.read_index(out))
