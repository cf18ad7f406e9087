"ecg_vision.models: registry builds, offline ImageNet weights, cost (the notebook holds the per-arch checks)."
import os, subprocess, sys
import pytest, torch
from torch import nn
from ecg_vision.models import ARCHS, build_model, cam_layer, default_size, get_module, model_cost, weights_file, WeightsNotCached

@pytest.mark.parametrize('arch', ['mobilenet_v3_small', 'resnet18', 'efficientnet_b0'])
def test_build_shapes(arch):
    m = build_model(arch, 4, freeze='head').eval()
    head = get_module(m, ARCHS[arch].head)
    assert isinstance(head, nn.Linear) and head.out_features == 4
    assert [p for p in m.parameters() if p.requires_grad] == list(head.parameters())
    with torch.no_grad(): assert m(torch.randn(2, 3, 64, 64)).shape == (2, 4)
    assert isinstance(cam_layer(m, arch), nn.Module)

def test_registry_sizes():
    assert set(ARCHS) == {'mobilenet_v3_small', 'mobilenet_v3_large', 'resnet18', 'resnet50', 'efficientnet_b0',
                          'efficientnet_b3', 'convnext_tiny', 'convnext_base'}
    assert default_size('efficientnet_b3') == 300 and default_size('resnet50') == 224

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
