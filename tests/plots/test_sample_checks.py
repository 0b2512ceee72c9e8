"""bin/sample_checks.py figures on the committed samples."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_sample_checks_cli(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "bin" / "sample_checks.py"), "-i", str(ROOT / "data" / "jec"),
                             str(ROOT / "data" / "flavour"), "-o", str(tmp_path)], capture_output=True, text=True,
                            timeout=300, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    for name in ("jec_raw_response", "jec_multiplicity", "flavour_impact_parameters", "flavour_multiplicity",
                 "flavour_sv_mass"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000, name
