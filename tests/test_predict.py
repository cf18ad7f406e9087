"""`ecgv_predict` end to end (subprocesses): one file as before, a folder of records and chart images in one call with a CSV,
figures and verdicts, photos through the image front end, and bad files that cost nothing else."""
import shutil
import cv2, numpy as np, pandas as pd, pytest
from PIL import Image
from conftest import run, FIX

@pytest.fixture(scope='module')
def trained(charts, tmp_path_factory):
    "A resnet18 trained for one epoch on 64 px config2 charts (mechanics, not numbers)."
    from ecg_vision.train import TrainConfig, train
    d = tmp_path_factory.mktemp('predict')
    return train(TrainConfig(arch='resnet18', lmdb=str(charts('train', 64, 'config2')), weights='none', stage='full', epochs=1, bs=8,
                             patience=0, device='cpu', out=str(d/'run')))['run_dir']

@pytest.mark.parametrize('rec', ['chapman/MUSE_20180111_155115_19000.csv', 'wfdb/E07500.hea'])
def test_one_record(trained, tmp_path, rec):
    cam = tmp_path/'cam'
    p = run('ecgv_predict', FIX/rec, '--model', trained, '--cam', cam, '--display', 128, '--threshold', 0.4)
    probs = dict(l.split('\t') for l in p.stdout.splitlines() if '\t' in l)
    assert list(probs) == ['AFIB', 'GSVT', 'SB', 'SR'] and abs(sum(map(float, probs.values())) - 1) < 1e-3
    assert 'predicted:' in p.stdout and 'confidence' in p.stdout
    w, h = Image.open(next(cam.glob('*.png'))).size
    assert h >= 128 and w > 3*128  # three labelled panels 128 px tall, a title and a colour bar

def test_one_bad_file_one_line(trained, tmp_path):
    bad = tmp_path/'bad.csv'; bad.write_text('1,2,3\n4,5,6\n')
    p = run('ecgv_predict', bad, '--model', trained, check=False)
    assert p.returncode == 2 and p.stderr.strip().splitlines() == [p.stderr.strip()] and 'bad.csv' in p.stderr and 'Traceback' not in p.stderr
    p = run('ecgv_predict', tmp_path/'missing.hea', '--model', trained, check=False)
    assert p.returncode != 0 and 'missing' in p.stderr and 'Traceback' not in p.stderr
    p = run('ecgv_predict', FIX/'wfdb'/'E07500.hea', '--model', tmp_path, check=False)
    assert p.returncode != 0 and 'params.json' in p.stderr and 'Traceback' not in p.stderr

def test_a_folder_in_one_call(trained, tmp_path):
    "Records and chart images mixed, one corrupt record: one row per file, the corrupt one with its error, figures, exit 0."
    d = tmp_path/'in'; shutil.copytree(FIX/'wfdb', d/'wfdb'); shutil.copytree(FIX/'images', d/'images')
    (d/'wfdb'/'E07500.mat').write_bytes(b'\x00'*100)  # a corrupt record
    cv2.imwrite(str(d/'images'/'blank.png'), np.full((300, 400, 3), 250, np.uint8))  # not a chart
    out, cam = tmp_path/'preds.csv', tmp_path/'cam'
    p = run('ecgv_predict', d, '--model', trained, '--out', out, '--cam', cam, '--threshold', 0.6)
    df = pd.read_csv(out).fillna('')
    n_rec, n_img = len(list((d/'wfdb').glob('*.hea'))) + len(list(d.rglob('*.csv'))), len(list((d/'images').glob('*.[jp][pn]g')))
    assert len(df) == n_rec + n_img and set(df.kind) == {'record', 'image'}  # a CSV that is not a record (labels.csv) is a row with its error
    assert list(df.columns[:6]) == ['file', 'kind', 'predicted', 'confidence', 'verdict', 'reason']
    assert df.loc[df.file.str.endswith('E07500.hea'), 'verdict'].item() == 'error'
    assert df.loc[df.file.str.endswith('blank.png'), 'verdict'].item() == 'unreadable'
    fine = df[df.verdict.isin(['ok', 'uncertain'])]
    assert len(fine) >= n_rec + n_img - 5 and ((fine.confidence >= .6) == (fine.verdict == 'ok')).all()
    assert np.allclose(fine[['p_AFIB', 'p_GSVT', 'p_SB', 'p_SR']].sum(axis=1), 1, atol=1e-4)
    assert 'E07500' in p.stderr and 'blank.png' in p.stderr and f"{len(df)} files:" in p.stdout
    assert len(list(cam.glob('*.frontend.png'))) == len(df[(df.kind == 'image') & (df.verdict != 'unreadable')])  # the photo's debug figure
    run('ecgv_predict', str(d/'images'/'*.jpg'), '--model', trained, '--out', tmp_path/'g.csv')  # a glob
    assert len(pd.read_csv(tmp_path/'g.csv')) == len(list((d/'images').glob('*.jpg')))

def test_a_photo_and_a_cat(trained, tmp_path):
    "A synthetic phone photo of a printed page goes through the front end; a cat is 'unreadable' in one line, --force classifies it."
    from skimage import data
    from ecg_vision.data import read_record
    from ecg_vision.styles import photograph, render_page
    photo = photograph(render_page(read_record(FIX/'wfdb'/'E07500.hea'), 'eik', seed=1).image, seed=2).image
    cv2.imwrite(str(tmp_path/'photo.jpg'), photo[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
    p = run('ecgv_predict', tmp_path/'photo.jpg', '--model', trained, '--cam', tmp_path/'cam')
    assert 'predicted:' in p.stdout and (tmp_path/'cam'/'photo.frontend.png').is_file()
    cv2.imwrite(str(tmp_path/'cat.png'), data.chelsea()[..., ::-1])
    r = run('ecgv_predict', tmp_path/'cat.png', '--model', trained, check=False)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and 'cat.png' in r.stderr
    f = run('ecgv_predict', tmp_path/'cat.png', '--model', trained, '--force')
    assert 'predicted:' in f.stdout and 'front end refused' in f.stdout

def test_readme_predict_command(trained, tmp_path):
    "README's ecgv_predict line as written: a folder of photos, a glob of records, a CSV and a folder of figures."
    import re
    from conftest import ROOT
    cmd = next(c for c in re.findall(r'```sh\n(.*?)```', (ROOT/'README.md').read_text(), flags=re.S) if 'ecgv_predict' in c).strip()
    assert cmd == 'ecgv_predict photos/ records/*.hea --model demo_out/run --out preds.csv --cam figures/', cmd
    shutil.copytree(FIX/'images', tmp_path/'photos'); shutil.copytree(FIX/'wfdb', tmp_path/'records')
    shutil.copytree(trained, tmp_path/'demo_out'/'run')  # another run than the demo's: the command is the same
    p = run('bash', '-c', cmd + ' --threshold 0.5', cwd=tmp_path)
    df = pd.read_csv(tmp_path/'preds.csv')
    n_img, n_rec = len(list((tmp_path/'photos').glob('*.jpg'))), len(list((tmp_path/'records').glob('*.hea')))
    assert len(df) == n_img + n_rec + 1 and 'wrote preds.csv' in p.stdout  # + photos/labels.csv, a row with its error
    assert len(list((tmp_path/'figures').glob('*.png'))) >= n_rec
