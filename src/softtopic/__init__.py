"""softtopic: neural topic models supervised by language-model soft labels (DSL)."""

__version__ = "0.1.0"


def load_run(run_dir, lm_manifest=None, cache_dir=None, device=None):
    """A trained run, ready for new documents (`softtopic.trained.load_run`)."""
    from softtopic.trained import load_run as _load_run

    return _load_run(run_dir, lm_manifest=lm_manifest, cache_dir=cache_dir, device=device)
