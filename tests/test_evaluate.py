"Tests of ecg_vision.evaluate: metrics vs sklearn, bootstrap intervals with known answers, ecgv_eval end to end."
import json
import numpy as np, pandas as pd, pytest, torch
from sklearn import metrics as skm
from conftest import run
from ecg_vision.data import CLASSES
from ecg_vision.evaluate import (HEADLINE, Metrics, bootstrap_ci, classification_metrics, fast_metrics, score, preds_frame,
                                 average_layouts, preds_metrics, read_log, pcols)

# fixed inputs: 12 items, 4 classes, one tie in the scores
Y = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3])
P = np.array([0, 0, 1, 1, 1, 2, 2, 2, 0, 3, 3, 1])
PROBS = np.array([[.7, .1, .1, .1], [.6, .2, .1, .1], [.3, .4, .2, .1], [.1, .7, .1, .1], [.2, .5, .2, .1], [.1, .2, .6, .1],
                  [.1, .1, .7, .1], [.2, .1, .6, .1], [.5, .1, .3, .1], [.1, .1, .1, .7], [.1, .2, .1, .6], [.1, .4, .2, .3]])

def test_metrics_agree_with_sklearn():
    m = classification_metrics(Y, P, PROBS)
    assert m['f1'] == pytest.approx(skm.f1_score(Y, P, average='macro'))
    assert m['precision'] == pytest.approx(skm.precision_score(Y, P, average='macro'))
    assert m['recall'] == pytest.approx(skm.recall_score(Y, P, average='macro'))
    assert m['accuracy'] == pytest.approx(skm.accuracy_score(Y, P)) == pytest.approx(8/12)
    assert m['auroc'] == pytest.approx(skm.roc_auc_score(Y, PROBS, multi_class='ovr', average='macro'))
    pr, rc, f1, sup = skm.precision_recall_fscore_support(Y, P)
    np.testing.assert_allclose(m['per_class']['recall'], rc); np.testing.assert_allclose(m['per_class']['f1'], f1)
    np.testing.assert_array_equal(m['confusion'], skm.confusion_matrix(Y, P))
    assert m['per_class']['recall'].tolist() == pytest.approx([2/3, 2/3, 2/3, 2/3])
    fa = fast_metrics(Y, P, PROBS)
    for k in HEADLINE: assert fa[k] == pytest.approx(m[k], abs=1e-12)

@pytest.mark.parametrize('seed', range(8))
def test_fast_metrics_match_sklearn_random(seed):
    "Missing classes, predictions outside y_true's classes, tied probabilities."
    r = np.random.default_rng(seed); n = int(r.integers(3, 80))
    y, p = r.integers(0, 3, n), r.integers(0, 4, n)
    probs = r.dirichlet(np.ones(4), n).round(1)
    sk, fa = classification_metrics(y, p, probs), fast_metrics(y, p, probs)
    for k in HEADLINE: assert fa[k] == pytest.approx(sk[k], abs=1e-12), k

def test_bootstrap_known_answers():
    assert bootstrap_ci(lambda i: 0.7, 50, n_boot=30) == (0.7, 0.7)                      # constant -> zero width
    x = (np.random.default_rng(3).random(3000) < 0.2).astype(float)
    lo, hi = bootstrap_ci(lambda i: x[i].mean(), len(x), n_boot=2000, seed=1)
    half = 1.96*np.sqrt(x.mean()*(1 - x.mean())/len(x))                                  # normal approximation
    assert lo == pytest.approx(x.mean() - half, abs=0.003) and hi == pytest.approx(x.mean() + half, abs=0.003)
    x2, g = np.repeat(x[:400], 2), np.repeat(np.arange(400), 2)                            # records resampled, not images
    assert bootstrap_ci(lambda i: x2[i].mean(), 800, g, n_boot=300) == pytest.approx(bootstrap_ci(lambda i: x[:400][i].mean(), 400, n_boot=300))
    a, b = bootstrap_ci(lambda i: x[i].mean(), len(x), n_boot=200, seed=5), bootstrap_ci(lambda i: x[i].mean(), len(x), n_boot=200, seed=5)
    assert a == b                                                                          # seeded

def test_score_and_metrics_json():
    m = score(Y, P, PROBS, n_boot=100)
    assert set(m.ci) == set(HEADLINE) and all(lo <= m[k] <= hi for k, (lo, hi) in m.ci.items())
    d = json.loads(json.dumps(m.to_dict()))
    assert Metrics.from_dict(d).to_dict() == d and d['pred_share'] == pytest.approx(4/12)
    md = m._repr_markdown_()
    assert 'macro F1' in md and '| AFIB |' in md and 'bootstrap' in md
    with pytest.raises(ValueError, match='0..3'): score([0, 1], [0, 5])

def test_tta_and_grouped_metrics():
    rid = np.repeat([f'r{i}' for i in range(6)], 2)
    pf = preds_frame(rid, ['std', '2x6']*6, Y, PROBS)
    assert list(pf.columns) == ['record_id', 'layout', 'true', 'predicted', *pcols(CLASSES)]
    mi = preds_metrics(pf, n_boot=50)
    assert (mi.n, mi.n_records, mi.unit) == (12, 6, 'image')
    with pytest.raises(ValueError, match='record r1'): average_layouts(pf)   # r1 has true classes 0 and 1
    pf2 = preds_frame(rid, ['std', '2x6']*6, np.repeat(Y[::2], 2), PROBS)
    t = average_layouts(pf2)
    assert len(t) == 6 and (t.layout == 'mean').all()
    np.testing.assert_allclose(t[pcols(CLASSES)].to_numpy(), PROBS.reshape(6, 2, 4).mean(1))

def test_read_log_formats(tmp_path):
    (tmp_path/'a.csv').write_text('stage,epoch,train_loss,valid_loss,accuracy,f1_score,time\nhead,0,1.2,1.1,0.5,0.4,00:01\nfull,0,0.9,0.8,0.7,0.6,00:02\n')
    (tmp_path/'b.csv').write_text('epoch,train_loss,time\n0,1.0,00:01\nepoch,train_loss,time\n0,0.5,00:01\n1,0.4,00:01\n')
    a, b = read_log(tmp_path/'a.csv'), read_log(tmp_path/'b.csv')
    assert a.stage.tolist() == ['head', 'full'] and a.f1_score.tolist() == [0.4, 0.6]
    assert b.stage.tolist() == ['0', '1', '1'] and b.step.tolist() == [1, 2, 3]
    (tmp_path/'c.csv').write_text('')
    with pytest.raises(ValueError, match='c.csv: empty'): read_log(tmp_path/'c.csv')

# ---- ecgv_eval end to end on a tiny run and a config2 test LMDB ----
@pytest.fixture(scope='module')
def tiny(synth_dir, tmp_path_factory):
    from ecg_vision.lmdb import render_to_lmdb
    from ecg_vision.models import build_model
    d = tmp_path_factory.mktemp('eval')
    lm = render_to_lmdb(synth_dir/'split_test.csv', 'config2', 64, d/'test.lmdb', progress=False)
    rd = d/'run'; rd.mkdir()
    torch.manual_seed(0)
    torch.save(build_model('mobilenet_v3_small', 4).state_dict(), rd/'model.pth')
    (rd/'params.json').write_text(json.dumps(dict(arch='mobilenet_v3_small', classes=CLASSES, n_classes=4, size=0, seed=0)))
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
