"ecgv_eval end to end (a subprocess on a tiny run). The metrics, intervals and tables are tested in 06_metrics and 06b_evaluate."
import json
import pandas as pd, pytest
from sklearn import metrics as skm
from conftest import run
from ecg_vision.data import CLASSES
from ecg_vision.metrics import HEADLINE, pcols

# ---- ecgv_eval end to end on a tiny run and a config2 test LMDB ----
@pytest.fixture(scope='module')
def tiny(charts, tmp_path_factory):
    from ecg_vision.test_utils import fake_run
    d = tmp_path_factory.mktemp('eval')
    lm = charts('test', 64, 'config2')
    rd = fake_run(d/'run', lm)
    (rd/'log.csv').write_text('stage,epoch,train_loss,valid_loss,accuracy,f1_score,time\nfull,0,1.4,1.3,0.3,0.2,00:01\n')
    return d, lm, rd

def test_ecgv_eval(tiny):
    from ecg_vision.lmdb import read_index
    d, lm, rd = tiny
    out = rd/'eval'
    p = run('ecgv_eval', '--model', rd, '--lmdb', lm, '--out', out, '--tta', '--n_boot', 50)
    assert 'macro F1' in p.stdout and 'test-time' in p.stdout
    idx = read_index(lm)
    pr = pd.read_csv(out/'predictions.csv')
    assert list(pr.columns) == ['record_id', 'layout', 'true', 'predicted', *pcols(CLASSES)] and len(pr) == len(idx)
    assert pr[pcols(CLASSES)].sum(axis=1).to_numpy() == pytest.approx(1, abs=1e-5)
    assert len(pd.read_csv(out/'predictions_tta.csv')) == idx.record_id.nunique()
    m = json.loads((out/'metrics.json').read_text())
    assert m['config'] == 'config2' and m['unit'] == 'image' and m['n_records'] == idx.record_id.nunique()
    assert m['tta']['unit'] == 'record' and m['cost']['gmacs'] > 0 and set(m['ci']) == set(HEADLINE)
    y, pp = pr.true.map(CLASSES.index), pr.predicted.map(CLASSES.index)
    assert m['f1'] == pytest.approx(skm.f1_score(y, pp, average='macro', zero_division=0))
    for f in ('confusion.png', 'curves.png', 'training.png', 'cost.json'): assert (out/f).stat().st_size > 0

def test_ecgv_eval_bad_input(tiny, tmp_path):
    d, lm, rd = tiny
    p = run('ecgv_eval', '--model', tmp_path, '--lmdb', lm, '--out', tmp_path/'o', check=False)
    assert p.returncode != 0 and 'params.json not found' in p.stderr
    bad = tmp_path/'bad'; bad.mkdir()
    (bad/'params.json').write_text(json.dumps(dict(arch='resnet18', classes=CLASSES)))
    (bad/'model.pth').write_bytes((rd/'model.pth').read_bytes())   # mobilenet weights, resnet18 params
    p = run('ecgv_eval', '--model', bad, '--lmdb', lm, '--out', tmp_path/'o', check=False)
    assert p.returncode != 0 and 'does not fit resnet18' in p.stderr
