"""Console scripts of the data and synth stages, end to end, and README/index agreement; PTB-XL as released; and the
edge cases of reading and checking a record that `nbs/00_data.ipynb` keeps out of its cells (to stay a short lesson)."""
import json, shutil, sys
import numpy as np
import pandas as pd
import pytest
from conftest import run, FIX, ROOT

def test_ecgv_synth_then_split(tmp_path):
    run('ecgv_synth', '--out', tmp_path/'syn', '--n', 20, '--seed', 3, '--workers', 2)
    assert len(list((tmp_path/'syn'/'ECGDataDenoised').glob('*.csv'))) == 20
    p = run('ecgv_split', '--data', tmp_path/'syn', '--out', tmp_path/'split', '--test_size', 0.25, '--seed', 1)
    assert 'split_train.csv' in p.stdout
    tr, te = pd.read_csv(tmp_path/'split'/'split_train.csv'), pd.read_csv(tmp_path/'split'/'split_test.csv')
    assert (len(tr), len(te)) == (16, 4)
    assert set(te.label) == {'AFIB', 'GSVT', 'SB', 'SR'}          # stratified: one of each class
    assert json.loads((tmp_path/'split'/'labels.json').read_text())['classes'] == ['AFIB', 'GSVT', 'SB', 'SR']

def test_ecgv_split_real_chapman(tmp_path):
    shutil.copytree(FIX/'chapman', tmp_path/'chapman')
    p = run('ecgv_split', '--data', tmp_path/'chapman', '--out', tmp_path/'out')
    assert '1 train, 0 test, 0 dropped' in p.stdout and '10645 labelled records without a signal file' in p.stdout

def test_ecgv_split_wfdb_reports_bad_and_finishes(tmp_path):
    d = tmp_path/'wfdb'; shutil.copytree(FIX/'wfdb', d)
    (d/'E07501.mat').write_bytes(b'broken')                        # a corrupt signal file among good ones
    run('ecgv_split', '--data', d, '--out', tmp_path/'out', '--format', 'wfdb')
    qc = pd.read_csv(tmp_path/'out'/'qc_report.csv').set_index('record_id')
    assert qc.loc['E07501', 'reason'] == "E07501.mat: truncated: 6 bytes, the header's 12 × 5000 samples need 120024"
    assert qc.loc['E07504', 'reason'].startswith('no rhythm among Dx codes')
    n = len(pd.read_csv(tmp_path/'out'/'split_train.csv')) + len(pd.read_csv(tmp_path/'out'/'split_test.csv'))
    assert n == 22 - (qc.status == 'dropped').sum()

def test_split_never_leaks_duplicates_over_50_seeds(tmp_path):
    "Duplicated Diagnostics rows, one stem in two sub-folders, one signal under two ids: no id ever on both sides."
    import numpy as np
    from ecg_vision.synth import synth_record
    from ecg_vision.split import make_split
    d = tmp_path/'dup'; (d/'A').mkdir(parents=True); (d/'B').mkdir()
    rhythms = ['SR', 'SB', 'AFIB', 'ST']*3
    save = lambda p, sig: np.savetxt(p, sig.T*1000, delimiter=',', fmt='%.1f')
    for i, r in enumerate(rhythms): save(d/'A'/f'r{i:02d}.csv', synth_record(r, i))
    shutil.copy(d/'A'/'r00.csv', d/'B'/'r00.csv')                          # the same file twice: merged
    save(d/'B'/'r01.csv', synth_record('SB', 99))                           # another recording under r01: dropped
    shutil.copy(d/'A'/'r02.csv', d/'A'/'twin02.csv')                        # one signal under two ids: split together
    rows = [(f'r{i:02d}', r) for i, r in enumerate(rhythms)] + [('twin02', 'AFIB'), ('r03', 'ST'), ('r04', 'SB'), ('r05', 'SR')]
    pd.DataFrame(rows, columns=['FileName', 'Rhythm']).to_csv(d/'Diagnostics.csv', index=False)   # r03 twice, r04/r05 relabelled
    for seed in range(50):
        r = make_split(d, tmp_path/f'o{seed}', seed=seed, test_size=0.3, workers=1, progress=False)
        tr, te = (pd.read_csv(r[k]).record_id for k in ('train', 'test'))
        assert not set(tr) & set(te) and tr.is_unique and te.is_unique, seed
        assert sorted([*tr, *te]) == sorted({f'r{i:02d}' for i in range(12)} - {'r01', 'r04', 'r05'} | {'twin02'})
        assert ({'r02', 'twin02'} <= set(tr)) or ({'r02', 'twin02'} <= set(te)), seed
    qc = pd.read_csv(r['qc_report']).set_index('record_id')
    assert qc.reason['r01'].startswith('2 different files share record id r01')
    assert qc.reason['r04'] == 'conflicting labels for record id r04: Diagnostics.csv row 6 says SR, Diagnostics.csv row 16 says SB'
    assert qc.status['r00'] == 'kept' and qc.status['r03'] == 'kept'

def test_ecgv_split_bad_folder_one_line(tmp_path):
    p = run('ecgv_split', '--data', tmp_path, '--out', tmp_path/'o', check=False)
    assert p.returncode != 0
    assert p.stderr.strip().splitlines()[-1] == \
        f"ecgv_split: {tmp_path}: no dataset found: none of Diagnostics.xlsx/.csv, WFDB .hea files, ptbxl_database.csv"

def test_readme_is_index():
    assert run(sys.executable, ROOT/'.ci'/'readme.py', '--check', check=False).returncode == 0, \
        "README.md is out of step with nbs/index.ipynb: run python .ci/readme.py"

def test_ecgv_split_corrupt_label_table_one_line(tmp_path):
    (tmp_path/'Diagnostics.xlsx').write_bytes(b'not a zip file at all')
    p = run('ecgv_split', '--data', tmp_path, '--out', tmp_path/'o', check=False)
    assert p.returncode != 0 and 'Traceback' not in p.stderr
    assert p.stderr.strip().splitlines()[-1].startswith(f"ecgv_split: {tmp_path/'Diagnostics.xlsx'}: unreadable label table (")

def test_ecgv_split_nothing_usable_exits_nonzero(tmp_path):
    (tmp_path/'Diagnostics.csv').write_text('FileName,Rhythm\nz,SR\n')
    (tmp_path/'z.csv').write_text('\n'.join(','.join(['0']*12) for _ in range(5000)) + '\n')
    p = run('ecgv_split', '--data', tmp_path, '--out', tmp_path/'o', check=False)
    err = p.stderr.strip().splitlines()
    assert p.returncode == 1 and err[0] == f"ecgv_split: {(tmp_path/'z.csv').resolve()}: all 12 leads are flat (all zero)"
    assert err[-1] == f"ecgv_split: {tmp_path}: no usable record (all are listed in {tmp_path/'o'/'qc_report.csv'})"


# ---------------------------------------------------------------------------------------------------------------
# PTB-XL as released (nbs/fixtures/ptbxl: 17 records of the release, its table trimmed to them)

def test_ecgv_split_ptbxl_by_patient(tmp_path):
    p = run('ecgv_split', '--data', FIX/'ptbxl', '--out', tmp_path/'o', '--seed', 3, '--workers', 1)
    tr, te = (pd.read_csv(tmp_path/'o'/f'split_{s}.csv', dtype={'patient_id': str}) for s in ('train', 'test'))
    assert len(tr) + len(te) == 15 and not set(tr.patient_id) & set(te.patient_id)     # 2 of 17 have no 4-class label
    assert 'ptbxl records, a random split by patient (seed 3, test_size 0.2); records per class:' in p.stdout
    assert 'dropped: 1 no rhythm statement of the four classes, 1 paced rhythm' in p.stdout
    err = [l for l in p.stderr.splitlines() if l.startswith('ecgv_split: ')]
    assert len(err) == 2 and any('00143_hr.hea: paced rhythm (PACE)' in l for l in err), p.stderr
    ids = pd.concat([tr, te]).set_index('record_id')
    assert ids.loc['00017_hr', ['rhythm', 'label']].tolist() == ['AF', 'AFIB'] and ids.patient_id['00012_hr'] == ids.patient_id['00200_hr']
    counts = pd.concat([tr, te]).label.value_counts().to_dict()
    assert counts == {'SR': 7, 'AFIB': 3, 'SB': 3, 'GSVT': 2}, counts

def test_ecgv_split_ptbxl_official_folds(tmp_path):
    p = run('ecgv_split', '--data', FIX/'ptbxl', '--out', tmp_path/'o', '--split', 'official', '--workers', 1)
    tr, te = pd.read_csv(tmp_path/'o'/'split_train.csv'), pd.read_csv(tmp_path/'o'/'split_test.csv')
    db = pd.read_csv(FIX/'ptbxl'/'ptbxl_database.csv').assign(record_id=lambda d: d.filename_hr.str.split('/').str[-1]).set_index('record_id')
    assert (tr.fold == db.strat_fold[tr.record_id].to_numpy()).all() and set(te.fold) == {10}
    assert set(tr.part[tr.fold <= 8]) == {'train'} and set(tr.part[tr.fold == 9]) == {'valid'}
    assert '12 train (4 of them validation), 3 test, 2 dropped' in p.stdout and "the release's folds" in p.stdout

def test_ecgv_split_official_without_folds_one_line(tmp_path):
    p = run('ecgv_split', '--data', FIX/'wfdb', '--out', tmp_path/'o', '--split', 'official', check=False)
    err = p.stderr.strip().splitlines()
    assert p.returncode == 2 and err == [f"ecgv_split: {FIX/'wfdb'}: wfdb releases have no official split: use --split random"], p.stderr

def test_ptbxl_conflicting_missing_and_bad_rows(tmp_path):
    "A row whose rhythm statements disagree, a row naming a missing file, a row whose scp_codes is not a dict: each dropped, named."
    from ecg_vision.split import make_split
    d = tmp_path/'ptbxl'; shutil.copytree(FIX/'ptbxl', d)
    db = pd.read_csv(d/'ptbxl_database.csv')
    db.loc[db.ecg_id == 1, 'scp_codes'] = "{'SR': 0.0, 'STACH': 0.0}"
    db.loc[db.ecg_id == 2, 'scp_codes'] = "__import__('os').system('false')"
    (d/'records500/00000/00011_hr.hea').unlink()
    db.to_csv(d/'ptbxl_database.csv', index=False)
    r = make_split(d, tmp_path/'o', workers=1, progress=False)
    qc = pd.read_csv(r['qc_report']).set_index('record_id').reason
    assert qc['00001_hr'] == 'conflicting rhythm statements: STACH, SR (GSVT vs SR) (ptbxl_database.csv row 2)'
    assert qc['00002_hr'].startswith('scp_codes "__import__(\'os\')') and 'is not a dict of SCP statements' in qc['00002_hr']
    assert qc['00011_hr'].startswith('no signal file records500/00000/00011_hr.hea under') and r['without_file'] == ['00011_hr']
    assert r['n_train'] + r['n_test'] == 12

def test_ptbxl_low_rate_files_when_only_they_exist(tmp_path):
    "A download of only records100 (100 Hz): the record is read from filename_lr and resampled to 500 Hz."
    from ecg_vision.data import find_records, read_record
    import wfdb
    d = tmp_path/'ptbxl'; (d/'records100/00000').mkdir(parents=True)
    shutil.copy(FIX/'ptbxl'/'ptbxl_database.csv', d); src = FIX/'ptbxl/records500/00000/00001_hr'
    rec = wfdb.rdrecord(str(src))
    wfdb.wrsamp('00001_lr', fs=100, units=rec.units, sig_name=rec.sig_name, p_signal=rec.p_signal[::5], fmt=['16']*12,
                adc_gain=[1000.]*12, baseline=[0]*12, write_dir=str(d/'records100/00000'))
    lab = find_records(d)[0].set_index('record_id')
    assert lab.path['00001_hr'].endswith('records100/00000/00001_lr.hea') and lab.path.isna().sum() == 16
    assert read_record(lab.path['00001_hr']).shape == (12, 5000)

def test_find_records_formats_and_unsafe_codes(tmp_path):
    from ecg_vision.data import find_records, scp_rhythm, MalformedECG
    assert find_records(FIX/'wfdb')[1].name == 'wfdb' and find_records(FIX/'ptbxl')[1].name == 'ptbxl'
    with pytest.raises(MalformedECG, match="unknown format 'xml': use auto, chapman, wfdb, ptbxl"): find_records(FIX/'ptbxl', 'xml')
    with pytest.raises(MalformedECG, match='no dataset found: none of Diagnostics.xlsx/.csv, WFDB .hea files, ptbxl_database.csv'):
        find_records(tmp_path)
    with pytest.raises(MalformedECG, match='no rhythm statement of the four classes: SCP codes NDT, BIGU'): scp_rhythm("{'NDT': 100.0, 'BIGU': 0.0}")
    with pytest.raises(MalformedECG, match='is not a dict of SCP statements'): scp_rhythm("__import__('os')")
    with pytest.raises(MalformedECG, match=r'paced rhythm \(PACE\)'): scp_rhythm({'PACE': 100.0, 'SR': 0.0})
    assert scp_rhythm("{'SR': 0.0, 'SARRH': 0.0}") == 'SI'                   # two that agree and are as likely: the more specific
    assert scp_rhythm("{'AFLT': 'x', 'AFIB': 0.0}") == 'AFIB'                # a likelihood that is not a number: no crash


# ---------------------------------------------------------------------------------------------------------------
# Edge cases of reading and checking one record (kept here so that nbs/00_data.ipynb stays a short lesson)

@pytest.fixture
def rec(tmp_path):
    "The real Chapman record as an array (mV), its raw µV rows, and a scratch folder."
    raw = np.loadtxt(FIX/'chapman/MUSE_20180111_155115_19000.csv', delimiter=',')
    return raw.T/1000, raw, tmp_path

def test_check_signal_causes(rec):
    from ecg_vision.data import check_signal, require_plausible, qc_reason, MalformedECG
    good, _, _ = rec
    assert check_signal(good).ok and check_signal(good).window == (0, 5000)
    with pytest.raises(MalformedECG, match=r't.csv: too short: 2500 samples = 5.00 s'): require_plausible(good[:, :2500], source='t.csv')
    assert check_signal(good/1000).cause.split(': ', 1)[1] == 'about 1000× too small (mV values where µV are expected?)'
    assert 'about 1000000× too large' in check_signal(good*1e6).cause and 'about 1000× too large' in check_signal(good*1000).cause
    noise = np.random.default_rng(0).integers(-32768, 32768, (12, 5000))/1000    # random int16 bytes read as mV
    assert check_signal(noise).cause.startswith('no ECG waveform')
    z = good.copy(); z[[7, 8]] = 0
    assert check_signal(z).cause == 'flat lead(s) V2, V3 (all zero)' == qc_reason(z)
    assert check_signal(np.zeros((12, 5000))).cause == 'all 12 leads are flat (all zero)'
    n = good.copy(); n[0, 0] = np.nan; n[1, 0] = np.inf
    assert check_signal(n).cause == 'NaN and infinite values in lead(s) I, II (first at sample 1)'
    l = np.concatenate([good, np.full((12, 1000), np.nan)], 1)                  # garbage after 10 s is not used
    assert (check_signal(l).ok, check_signal(l).notes) == (True, ('12.0 s long: the first 10 s (samples 1-5000) are used',))
    assert check_signal(good, fs=10).cause == 'sampling rate 10 Hz is outside 100-10000 Hz'
    assert check_signal(good[:11]).cause == 'expected 12 leads, found 11'
    assert bool(check_signal(good*0.5))
    assert qc_reason(good[:, :4000]) == 'too short: 4000 samples = 8.00 s at 500 Hz, expected 10 s (5000 samples); truncated?'

def test_read_record_bad_files(rec):
    from ecg_vision.data import read_record, read_text, read_labels, MalformedECG
    good, raw, tmp = rec
    chapman_csv, wfdb_dir = FIX/'chapman/MUSE_20180111_155115_19000.csv', FIX/'wfdb'
    assert np.abs(read_record(chapman_csv)).max() < 10                                 # millivolts, not microvolts
    assert (read_record(wfdb_dir/'E07500') == read_record(wfdb_dir/'E07500.mat')).all()
    pd.DataFrame(raw[:, :11]).to_csv(tmp/'eleven.csv', index=False, header=False)
    row1 = raw.copy(); row1[0, :2] = np.nan, np.inf                                     # NaN/inf in row 1: data, not a header
    pd.DataFrame(row1).to_csv(tmp/'row1.csv', index=False, header=False)
    (tmp/'cut.csv').write_text(chapman_csv.read_text()[:100_000])
    (tmp/'u16.csv').write_text('I,II\n1,2\n', encoding='utf-16')
    (tmp/'l1.csv').write_bytes('I (µV),II\n1,2\n'.encode('latin-1'))
    d = tmp/'wf'; d.mkdir(); shutil.copy(wfdb_dir/'E07500.hea', d); (d/'E07500.mat').write_bytes((wfdb_dir/'E07500.mat').read_bytes()[:5000])
    cases = [(tmp/'eleven.csv', 'expected 12 lead columns, found 11'), (tmp/'row1.csv', r'NaN and infinite values in lead\(s\) I, II \(first at sample 1\)'),
             (tmp/'cut.csv', 'truncated: the last line'), (tmp/'missing.csv', 'missing.csv: file not found'), (tmp/'u16.csv', 'UTF-16 text'),
             (d/'E07500.hea', 'E07500.mat: truncated: 5000 bytes')]
    for f, frag in cases:
        with pytest.raises(MalformedECG, match=frag): read_record(f)
    with pytest.raises(MalformedECG, match='not UTF-8 text \\(byte 0xB5 on line 1'): read_text(tmp/'l1.csv')
    with pytest.raises(MalformedECG, match='UTF-16 text'): read_labels(tmp/'u16.csv')
    (d/'E07500.mat').write_bytes(np.random.default_rng(0).bytes((wfdb_dir/'E07500.mat').stat().st_size))
    with pytest.raises(MalformedECG, match='no ECG waveform'): read_record(d/'E07500.hea')
    (d/'E07500.mat').unlink()
    with pytest.raises(MalformedECG, match='E07500.hea: signal file E07500.mat named in the header is missing'): read_record(d/'E07500.hea')
    (tmp/'l1hea').mkdir(); (tmp/'l1hea'/'E1.hea').write_bytes((wfdb_dir/'E07500.hea').read_bytes() + '# Name: Müller\n'.encode('latin-1'))
    assert read_labels(tmp/'l1hea').reason[0].startswith('not UTF-8 text (byte 0xFC on line 19')  # a row, not a crash
