"""Each Snakemake script logs to its job log, including the error that ends it."""

import subprocess
import sys


def test_a_failing_job_leaves_its_traceback_in_its_log(tmp_path):
    log = tmp_path / "job.log"
    code = f"from softtopic.workflow import script_logging\nscript_logging({str(log)!r})\nraise ValueError('bad input x')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0
    text = log.read_text()
    assert "job failed" in text and "ValueError: bad input x" in text
