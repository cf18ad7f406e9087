"End-to-end tests of `ecgv_explain` and `ecgv_predict` on a tiny model trained on synthetic config2 charts."
import json
import numpy as np, pandas as pd, pytest
from PIL import Image
from conftest import run, FIX
from ecg_vision.data import LEADS

SIZE = 64

@pytest.fixture(scope='module')
def trained(charts, tmp_path_factory):
    "A resnet18 trained for one epoch on 64 px config2 charts, and the test LMDB."
    from ecg_vision.train import TrainConfig, train
    d = tmp_path_factory.mktemp('explain')
    res = train(TrainConfig(arch='resnet18', lmdb=str(charts('train', SIZE, 'config2')), weights='none', stage='full', epochs=1, bs=8,
                            patience=0, device='cpu', out=str(d/'run')))
    return charts('test', SIZE, 'config2'), res['run_dir']

def test_explain_cli(trained, tmp_path):
    test_lmdb, run_dir = trained
    out = tmp_path/'ex'
    p = run('ecgv_explain', '--model', run_dir, '--lmdb', test_lmdb, '--out', out, '--n', 2, '--faith', 1, '--device', 'cpu')
    assert 'overlays' in p.stdout and str(out) in p.stdout
    pngs = sorted((out/'overlays').glob('*.png'))
    assert len(pngs) == 2
    w, h = Image.open(pngs[0]).size
    assert h >= 448 and w > 3*448  # chart | Grad-CAM | Guided Grad-CAM, each at least 448 px tall, with a title and a colour bar
    assert (out/'lead_attribution.png').is_file()
    img = pd.read_csv(out/'lead_attribution_images.csv')
    n_charts = len(pd.read_csv(test_lmdb.with_name(test_lmdb.stem + '.index.csv')))
    assert len(img) == 2*n_charts and set(img.method) == {'gradcam', 'guided'}
    sums = img[LEADS + ['rhythm']].sum(axis=1, min_count=1).dropna()
    assert len(sums) > 0 and np.allclose(sums, 1.0)
    assert img.loc[img.layout == '2x6', 'rhythm'].isna().all()  # 2x6 has no rhythm strip
    agg = pd.read_csv(out/'lead_attribution.csv')
    assert {'method', 'layout', 'target_class', 'n', *LEADS} <= set(agg.columns)
    cons = pd.read_csv(out/'consistency.csv')
    assert len(cons) == 2*img.record_id.nunique() and cons.rho.dropna().between(-1, 1).all()
    faith = pd.read_csv(out/'faithfulness.csv')
    assert len(faith) == 2 and faith[['deletion_auc', 'insertion_auc']].notna().all().all()
    summ = json.loads((out/'summary.json').read_text())
    assert summ['activation_family'] == 'relu' and summ['charts'] == n_charts

@pytest.mark.parametrize('rec', ['chapman/MUSE_20180111_155115_19000.csv', 'wfdb/E07500.hea'])
def test_predict_cli(trained, tmp_path, rec):
    _, run_dir = trained
    cam = tmp_path/'cam.png'
    p = run('ecgv_predict', FIX/rec, '--model', run_dir, '--cam', cam, '--display', 128)
    probs = dict(l.split('\t') for l in p.stdout.splitlines() if '\t' in l)
    assert list(probs) == ['AFIB', 'GSVT', 'SB', 'SR'] and abs(sum(map(float, probs.values())) - 1) < 1e-3
    assert 'predicted:' in p.stdout
    w, h = Image.open(cam).size
    assert h >= 128 and w > 3*128  # three labelled panels 128 px tall, a title and a colour bar

def test_predict_bad_file(trained, tmp_path):
    _, run_dir = trained
    bad = tmp_path/'bad.csv'; bad.write_text('1,2,3\n4,5,6\n')
    p = run('ecgv_predict', bad, '--model', run_dir, check=False)
    assert p.returncode != 0 and 'bad.csv' in p.stderr and '12 lead columns' in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1  # one line, no traceback
    p = run('ecgv_predict', tmp_path/'missing.hea', '--model', run_dir, check=False)
    assert p.returncode != 0 and 'missing' in p.stderr and 'Traceback' not in p.stderr

def test_missing_run(tmp_path):
    p = run('ecgv_predict', FIX/'chapman/MUSE_20180111_155115_19000.csv', '--model', tmp_path, check=False)
    assert p.returncode != 0 and 'params.json' in p.stderr and 'Traceback' not in p.stderr

def test_predict_photo_of_a_chart(trained, tmp_path):
    "`ecgv_predict photo.jpg`: a phone-like capture of a chart is classified (with its likeness); a cat is refused in one line."
    import cv2
    from ecg_vision.capture import capture, conditions
    from ecg_vision.data import read_record
    from ecg_vision.render import render
    from skimage import data
    _, run_dir = trained
    chart = render(read_record(FIX/'wfdb'/'E07500.hea'), 'std', (600, 800))
    photo = capture(chart, conditions(0.5)['phone'], seed=123)  # a fair phone photo (severity 1 is the hard case)
    cv2.imwrite(str(tmp_path/'photo.jpg'), photo[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
    p = run('ecgv_predict', tmp_path/'photo.jpg', '--model', run_dir, '--cam', tmp_path/'cam.png')
    probs = dict(l.split('\t') for l in p.stdout.splitlines() if '\t' in l)
    assert list(probs) == ['AFIB', 'GSVT', 'SB', 'SR'] and abs(sum(map(float, probs.values())) - 1) < 1e-3
    assert 'chart likeness' in p.stdout and (tmp_path/'cam.png').is_file()
    cv2.imwrite(str(tmp_path/'cat.png'), data.chelsea()[..., ::-1])
    r = run('ecgv_predict', tmp_path/'cat.png', '--model', run_dir, check=False)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and 'does not look like an ECG chart' in r.stderr
    f = run('ecgv_predict', tmp_path/'cat.png', '--model', run_dir, '--force')
    assert 'predicted:' in f.stdout and 'chart likeness 0.' in f.stdout
