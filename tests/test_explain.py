"End-to-end tests of `ecgv_explain` on a tiny model trained on synthetic config2 charts (`ecgv_predict`: test_predict.py)."
import json
import numpy as np, pandas as pd, pytest
from PIL import Image
from conftest import run
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
